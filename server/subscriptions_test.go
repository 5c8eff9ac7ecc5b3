package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/trellis-mesh/trellis/models"
)

// wsClient speaks graphql-transport-ws over a real websocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialWS(t *testing.T, e *env, header http.Header) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/graphql", header)
	if err != nil {
		t.Fatalf("dialing: %v (%v)", err, res)
	}
	if conn.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) send(m any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

// next reads the next message other than pings/pongs.
func (c *wsClient) next() (wsMessage, error) {
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wsMessage
		if err := c.conn.ReadJSON(&m); err != nil {
			return m, err
		}
		if m.Type == "ping" || m.Type == "pong" || m.Type == "ka" {
			continue
		}
		return m, nil
	}
}

func (c *wsClient) mustNext(typ string) wsMessage {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("reading (want %s): %v", typ, err)
	}
	if m.Type != typ {
		c.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, typ)
	}
	return m
}

func (c *wsClient) init(token string) {
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	c.mustNext("connection_ack")
}

func (c *wsClient) subscribe(id, query string) {
	c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}})
}

func TestSubscriptionDesignChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		viewer := e.token(t, "watcher", models.RoleViewer)
		c := dialWS(t, e, nil)
		c.init(viewer)
		c.subscribe("all", `subscription { designChanged { kind name revision actor } }`)
		c.subscribe("one", `subscription { designChanged(name: "shop") { kind name revision } }`)
		waitSubscribers(t, e, 2)

		e.save(t, e.admin, "other", 10, 0)
		e.save(t, e.admin, "shop", 20, 0)
		e.save(t, e.admin, "shop", 30, 1)
		e.must(t, e.admin, `mutation { deleteDesign(name: "shop") { deleted } }`, nil, nil)

		got := map[string][]string{}
		for len(got["all"]) < 4 || len(got["one"]) < 3 {
			m := c.mustNext("next")
			var p struct {
				Data struct {
					DesignChanged struct {
						Kind, Name, Actor string
						Revision          int
					}
				}
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			dc := p.Data.DesignChanged
			got[m.ID] = append(got[m.ID], dc.Kind+" "+dc.Name+" "+itoa(dc.Revision))
			if m.ID == "all" && dc.Actor != "admin" {
				t.Fatalf("actor %q", dc.Actor)
			}
		}
		if want := "SAVED other 1|SAVED shop 1|SAVED shop 2|DELETED shop 0"; strings.Join(got["all"], "|") != want {
			t.Fatalf("all: %q", got["all"])
		}
		if want := "SAVED shop 1|SAVED shop 2|DELETED shop 0"; strings.Join(got["one"], "|") != want {
			t.Fatalf("one: %q", got["one"])
		}
		// Completing a subscription stops it.
		c.send(map[string]any{"id": "one", "type": "complete"})
		waitSubscribers(t, e, 1)
	})
}

func TestSubscriptionOperationProgress(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	e.save(t, e.admin, "shop", 50, 0)
	c := dialWS(t, e, http.Header{"Authorization": {"Bearer " + e.admin}})
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	c.mustNext("connection_ack")
	c.subscribe("ops", `subscription { operationProgress { operation { id kind status progress message result } } }`)
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Operations().Events.Subscribers() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var st struct {
		StartTranslateAll struct{ ID string }
	}
	e.must(t, e.admin, `mutation { startTranslateAll(input: {design: "shop", meshes: ["native"]}) { id } }`, nil, &st)
	var statuses []string
	for {
		m := c.mustNext("next")
		var p struct {
			Data struct {
				OperationProgress struct {
					Operation struct {
						ID, Kind, Status string
						Progress         float64
					}
				}
			}
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		op := p.Data.OperationProgress.Operation
		if op.ID != st.StartTranslateAll.ID || op.Kind != "translate-all" {
			t.Fatalf("event of another operation: %+v", op)
		}
		statuses = append(statuses, op.Status)
		if op.Status != "RUNNING" {
			if op.Status != "SUCCEEDED" || op.Progress != 1 {
				t.Fatalf("final event: %+v", op)
			}
			break
		}
	}
	if len(statuses) < 3 || statuses[0] != "RUNNING" {
		t.Fatalf("progress events: %v", statuses)
	}
}

func TestSubscriptionAuth(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	for _, payload := range []map[string]any{{}, {"Authorization": "Bearer nope"}} {
		c := dialWS(t, e, nil)
		c.send(map[string]any{"type": "connection_init", "payload": payload})
		m, err := c.next()
		if err == nil && m.Type == "connection_ack" {
			t.Fatalf("connection with payload %v was acknowledged", payload)
		}
		// The server refuses the connection: an error frame, then the socket closes.
		for err == nil {
			_, err = c.next()
		}
	}
	// authToken in the payload works too.
	c := dialWS(t, e, nil)
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": e.admin}})
	c.mustNext("connection_ack")
	c.subscribe("hb", `subscription { heartbeat(seconds: 1) }`)
	c.mustNext("next")
}

// waitSubscribers waits until the server has n design-change subscribers.
func waitSubscribers(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if e.srv.DesignSubscribers() == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("design subscribers = %d, want %d", e.srv.DesignSubscribers(), n)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
