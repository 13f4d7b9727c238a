package search_test

import (
	"fmt"

	"github.com/seed9c1868aa/articles/search"
)

func Example() {
	q, err := search.Parse(`Milošević  sanctions -"peace talks" Belgr*`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q)
	for _, c := range q.Clauses {
		fmt.Printf("%-18s terms=%v negated=%v prefix=%v\n", c, c.Terms, c.Negated, c.Prefix)
	}
	body := "In 1999 Slobodan Milošević faced new sanctions while Belgrade burned."
	fmt.Println(search.Snippet(body, q, 100))

	_, err = search.Parse(`-sanctions`)
	fmt.Println(err)
	// Output:
	// belgr* milosevic sanctions -"peace talks"
	// belgr*             terms=[belgr] negated=false prefix=true
	// milosevic          terms=[milosev] negated=false prefix=false
	// sanctions          terms=[sanction] negated=false prefix=false
	// -"peace talks"     terms=[peac talk] negated=true prefix=false
	// In 1999 Slobodan **Milošević** faced new **sanctions** while **Belgrade** burned.
	// invalid search query: query needs at least one word or phrase that is not excluded with '-'
}

func ExampleAnalyze() {
	for _, tok := range search.Analyze("The ICC’s sanctions") {
		fmt.Printf("%s %s %d [%d:%d]\n", tok.Term, tok.Word, tok.Pos, tok.Start, tok.End)
	}
	// Output:
	// icc icc 1 [4:11]
	// sanction sanctions 2 [12:21]
}
