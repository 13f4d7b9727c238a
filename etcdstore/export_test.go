package etcdstore

// EtcdRevision and StoreRevision convert between store revisions and
// etcd's, for tests that compact or read etcd directly.
var (
	EtcdRevision  = etcdRevision
	StoreRevision = storeRevision
)
