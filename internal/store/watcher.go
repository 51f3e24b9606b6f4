package store

// Watcher is implemented by registries that push their changes (etcd's
// watch) rather than being polled. A registry that offers it still
// implements Changed; Notify only says when calling Changed is worthwhile.
type Watcher interface {
	// Notify returns a channel that receives a value soon after the target
	// list or a run flag changes, or when the registry stops answering.
	// Values are coalesced: one pending notification stands for many
	// changes. The channel stays the same for the life of the registry.
	Notify() <-chan struct{}
}
