package etcdstore

// EtcdRevision and StoreRevision convert between store revisions and
// etcd's, for tests that compact or read etcd directly.
var (
	EtcdRevision  = etcdRevision
	StoreRevision = storeRevision
)

// CacheLen returns how many articles st's read cache holds (0 when off).
func CacheLen(st *Store) int {
	if st.cache == nil {
		return 0
	}
	st.cache.mu.Lock()
	defer st.cache.mu.Unlock()
	return len(st.cache.ids)
}
