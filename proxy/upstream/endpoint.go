package upstream

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxIdlePerEndpoint bounds the idle HTTP/1.1 connections kept per endpoint.
const maxIdlePerEndpoint = 256

// Endpoint is one upstream address with its connection pool and outlier/health state.
type Endpoint struct {
	// Addr is host:port.
	Addr string

	weight       int
	st           *State
	active       atomic.Int64
	consec5xx    atomic.Int32
	ejectedUntil atomic.Int64
	ejections    atomic.Int32
	lastEjectEnd atomic.Int64
	hcUnhealthy  atomic.Bool

	mu      sync.Mutex
	idle    []*Conn
	closed  bool
	waiters chan *Conn
}

func newEndpoint(addr string, st *State) *Endpoint {
	return &Endpoint{Addr: addr, st: st, waiters: make(chan *Conn)}
}

// Conn is a pooled HTTP/1.1 upstream connection.
type Conn struct {
	net.Conn
	// BR reads responses.
	BR *bufio.Reader
	// BW writes requests.
	BW *bufio.Writer
	// Reused is true when the connection served an earlier request.
	Reused bool
	// HasDeadline records that a deadline is set (so it can be cleared when the next use has none).
	HasDeadline bool
	ep          *Endpoint
}

// Available reports whether the endpoint may receive traffic (not ejected, not failing checks).
func (e *Endpoint) Available(now int64) bool {
	if e.hcUnhealthy.Load() {
		return false
	}
	if u := e.ejectedUntil.Load(); u != 0 {
		if now < u {
			return false
		}
		if e.ejectedUntil.CompareAndSwap(u, 0) {
			e.lastEjectEnd.Store(now)
			e.consec5xx.Store(0)
		}
	}
	return true
}

// Ejected reports whether the endpoint is currently ejected by outlier detection.
func (e *Endpoint) Ejected() bool {
	u := e.ejectedUntil.Load()
	return u != 0 && time.Now().UnixNano() < u
}

// Begin marks a request as active on the endpoint (for least-request balancing).
func (e *Endpoint) Begin() { e.active.Add(1) }

// End marks a request as finished on the endpoint.
func (e *Endpoint) End() { e.active.Add(-1) }

// Get returns an idle connection or dials a new one, honouring max_connections/max_pending;
// deadline (zero = none) bounds dialing and waiting.
func (c *Cluster) Get(deadline time.Time, e *Endpoint) (*Conn, error) {
	e.mu.Lock()
	if n := len(e.idle); n > 0 {
		conn := e.idle[n-1]
		e.idle[n-1] = nil
		e.idle = e.idle[:n-1]
		e.mu.Unlock()
		return conn, nil
	}
	e.mu.Unlock()
	st := c.st
	if st.conns.Add(1) > c.Thresholds.MaxConnections {
		st.conns.Add(-1)
		if st.pending.Add(1) > c.Thresholds.MaxPending {
			st.pending.Add(-1)
			st.counters.Overflows.Add(1)
			return nil, ErrOverflow
		}
		defer st.pending.Add(-1)
		wait := c.ConnectTimeout
		if !deadline.IsZero() && time.Until(deadline) < wait {
			wait = time.Until(deadline)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case conn := <-e.waiters:
			return conn, nil
		case <-t.C:
			st.counters.Overflows.Add(1)
			return nil, ErrOverflow
		}
	}
	d := net.Dialer{Timeout: c.ConnectTimeout, Deadline: deadline, KeepAlive: 30 * time.Second}
	nc, err := d.Dial("tcp", e.Addr)
	if err != nil {
		st.conns.Add(-1)
		st.counters.ConnectFailures.Add(1)
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		hd := time.Now().Add(c.ConnectTimeout)
		if !deadline.IsZero() && deadline.Before(hd) {
			hd = deadline
		}
		_ = tc.SetDeadline(hd)
		if err := tc.Handshake(); err != nil {
			_ = nc.Close()
			st.conns.Add(-1)
			st.counters.ConnectFailures.Add(1)
			return nil, fmt.Errorf("tls handshake with %s: %w", e.Addr, err)
		}
		_ = tc.SetDeadline(time.Time{})
		nc = tc
	}
	st.counters.ConnectionsOpened.Add(1)
	return &Conn{Conn: nc, BR: bufio.NewReaderSize(nc, 8<<10), BW: bufio.NewWriterSize(nc, 8<<10), ep: e}, nil
}

// Put returns a healthy keep-alive connection to its endpoint's pool.
func (c *Conn) Put() {
	e := c.ep
	c.Reused = true
	select {
	case e.waiters <- c:
		return
	default:
	}
	e.mu.Lock()
	if e.closed || len(e.idle) >= maxIdlePerEndpoint {
		e.mu.Unlock()
		c.Close()
		return
	}
	e.idle = append(e.idle, c)
	e.mu.Unlock()
}

// Close closes the connection and releases its connection slot.
func (c *Conn) Close() {
	if c.Conn != nil {
		_ = c.Conn.Close()
		c.Conn = nil
		c.ep.st.conns.Add(-1)
	}
}

func (e *Endpoint) closeIdle() {
	e.mu.Lock()
	idle := e.idle
	e.idle = nil
	e.closed = true
	e.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// Report feeds a request outcome to outlier detection: status is the HTTP status, or 0 for a
// connection failure/reset.
func (c *Cluster) Report(e *Endpoint, status int) {
	o := c.Outlier
	if o == nil {
		return
	}
	if status != 0 && status < 500 {
		if e.consec5xx.Load() != 0 {
			e.consec5xx.Store(0)
		}
		return
	}
	if e.consec5xx.Add(1) < o.Consecutive5xx {
		return
	}
	now := time.Now().UnixNano()
	if e.ejectedUntil.Load() > now {
		return
	}
	ejected := 0
	for _, x := range c.Endpoints {
		if x != e && x.ejectedUntil.Load() > now {
			ejected++
		}
	}
	if ejected > 0 && (ejected+1)*100 > o.MaxEjectionPercent*len(c.Endpoints) {
		return
	}
	if last := e.lastEjectEnd.Load(); last != 0 && time.Duration(now-last) > 10*o.Interval+o.BaseEjection*time.Duration(e.ejections.Load()) {
		e.ejections.Store(0)
	}
	n := e.ejections.Add(1)
	d := o.BaseEjection * time.Duration(n)
	if o.MaxEjection > 0 && d > o.MaxEjection {
		d = o.MaxEjection
	}
	if e.ejectedUntil.CompareAndSwap(e.ejectedUntil.Load(), now+int64(d)) {
		e.consec5xx.Store(0)
		c.st.counters.Ejections.Add(1)
	}
}

// EjectedCount returns how many endpoints of the cluster are currently ejected.
func (c *Cluster) EjectedCount() int {
	now := time.Now().UnixNano()
	n := 0
	for _, e := range c.Endpoints {
		if e.ejectedUntil.Load() > now {
			n++
		}
	}
	return n
}
