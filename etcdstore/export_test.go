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

// InterruptWatch ends st's watch and runs during in st's follower before
// the follower opens its watch again.
func InterruptWatch(st *Store, during func()) {
	st.beforeWatch.Store(&during)
	if c := st.watchCancel.Load(); c != nil {
		(*c)()
	}
}
