package adapters

import (
	"fmt"
	"sort"
	"sync"
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Adapter{}
)

// Register adds an adapter to the registry. It is meant to be called from an init function and
// panics on a registration mistake (empty or duplicate name, a feature without a capability),
// so that such mistakes never reach a running program.
func Register(a Adapter) {
	registryMu.Lock()
	defer registryMu.Unlock()
	name := a.Name()
	if name == "" {
		panic("adapters: Register with an empty name")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("adapters: adapter %q registered twice", name))
	}
	caps := a.Capabilities()
	for _, f := range Features {
		c, ok := caps[f.Feature]
		if !ok {
			panic(fmt.Sprintf("adapters: adapter %q declares no capability for feature %q", name, f.Feature))
		}
		if c.Support != Native && c.Note == "" {
			panic(fmt.Sprintf("adapters: adapter %q: %s feature %q needs a note", name, c.Support, f.Feature))
		}
	}
	registry[name] = a
}

// Get returns the adapter registered under name.
func Get(name string) (Adapter, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	a, ok := registry[name]
	return a, ok
}

// Names returns the names of every registered adapter, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the adapter registered under name or an error listing the known names.
func Lookup(name string) (Adapter, error) {
	if a, ok := Get(name); ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown mesh %q: expected one of %v", name, Names())
}
