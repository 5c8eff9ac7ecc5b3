//go:build !linux

package proxy

import "runtime/debug"

// trimResidentMemory returns the heap garbage of initialisation to the OS.
func trimResidentMemory() { debug.FreeOSMemory() }
