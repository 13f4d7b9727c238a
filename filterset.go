package articles

import "context"

// IndexedField names a field a backend keeps an index of values to ids
// for, which a Filter's condition on it can be answered from.
type IndexedField int

// The indexed fields a Filter can name.
const (
	FieldAuthor IndexedField = iota + 1
	FieldTag
	FieldSource
)

// Condition is one of a Filter's conditions on an indexed field.
type Condition struct {
	Field IndexedField
	Value string
}

// IndexedConditions returns f's conditions on indexed fields (author, tag,
// source), in that order.
func (f Filter) IndexedConditions() []Condition {
	var cs []Condition
	for _, c := range []Condition{{FieldAuthor, f.Author}, {FieldTag, f.Tag}, {FieldSource, f.Source}} {
		if c.Value != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// SmallestSet returns the smallest of the id sets that read returns for
// f's indexed conditions, or nil when f has none (every id may match). It
// stops at an empty set. The set kept is a superset of the matches: the
// other conditions are for the caller to check on each article, which a
// listing does anyway (Filter.Match).
func SmallestSet[S ~map[string]V, V any](ctx context.Context, f Filter, read func(context.Context, Condition) (S, error)) (S, error) {
	var best S
	for _, c := range f.IndexedConditions() {
		set, err := read(ctx, c)
		if err != nil {
			return nil, err
		}
		if best == nil || len(set) < len(best) {
			best = set
		}
		if len(best) == 0 {
			break
		}
	}
	return best, nil
}
