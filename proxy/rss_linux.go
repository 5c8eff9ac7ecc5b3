//go:build linux

package proxy

import (
	"debug/elf"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
)

// trimResidentMemory returns memory the proxy does not need after start-up to the kernel: the Go
// heap garbage of initialisation (FreeOSMemory) and the clean read-only pages of the executable
// that the package initialisers of the whole trellis CLI touched (code and tables of commands the
// proxy never runs). Only sections that are never written are dropped (.text, .rodata, pclntab …,
// never RELRO data the dynamic loader relocated): they fault back in from the page cache on
// demand, so only the proxy's working set stays resident. Position-independent executables are
// left alone.
func trimResidentMemory() {
	trimOnce.Do(func() { trimRanges = readOnlySections() })
	debug.FreeOSMemory()
	for _, r := range trimRanges {
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(r[0]), uintptr(r[1]-r[0]), uintptr(syscall.MADV_DONTNEED))
	}
}

var (
	trimOnce   sync.Once
	trimRanges [][2]uint64
)

// readOnlySections returns the page-aligned address ranges of the executable's sections that are
// loaded and never written.
func readOnlySections() [][2]uint64 {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	f, err := elf.Open(exe)
	if err != nil {
		return nil
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		return nil
	}
	var out [][2]uint64
	page := uint64(os.Getpagesize())
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_WRITE != 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		if strings.Contains(s.Name, "rel.ro") || strings.HasPrefix(s.Name, ".got") || strings.HasPrefix(s.Name, ".init_array") ||
			strings.HasPrefix(s.Name, ".fini_array") || s.Name == ".dynamic" {
			continue
		}
		start := (s.Addr + page - 1) &^ (page - 1)
		end := (s.Addr + s.Size) &^ (page - 1)
		if end > start {
			out = append(out, [2]uint64{start, end})
		}
	}
	return out
}
