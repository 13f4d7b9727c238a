package fulltext_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seed9c1868aa/articles"
)

// TestOpenOverRestoredStore restores an older backup of the store in
// place, beside the index of the newer file: the index is ahead of the
// store, so Open must rebuild it rather than take the restored store's
// next writes for events it has already applied.
func TestOpenOverRestoredStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := openTestDB(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, searchArt("kept", "Kept", "Walruses were here before the backup."))
	backup, err := os.Create(path + ".backup")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}
	if err := backup.Close(); err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"lost-1", "lost-2", "lost-3"} {
		mustCreate(t, db, searchArt(slug, "Lost", "Narwhals came after the backup."))
	}
	if err := db.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".backup", path); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	mustCreate(t, db, searchArt("new", "New", "Narwhals came after the restore."))
	if got := slugs(doSearch(t, db, "narwhals", articles.Filter{}, 0, 10)); !slices.Equal(got, []string{"new"}) {
		t.Errorf("search after restoring in place = %v, want [new]", got)
	}
	if got := slugs(doSearch(t, db, "walruses", articles.Filter{}, 0, 10)); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("search after restoring in place = %v, want [kept]", got)
	}
}
