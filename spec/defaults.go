package spec

import (
	"reflect"
	"strconv"
	"time"
)

// DefaultNamespace is the namespace of a design whose metadata.namespace is empty.
const DefaultNamespace = "default"

// DefaultSelectorLabel is the pod label of a service's default selector: {app: <service name>}.
const DefaultSelectorLabel = "app"

// DefaultRetryOn is the default of Retries.On for HTTP services.
var DefaultRetryOn = []string{"5xx", "connect-failure", "reset"}

// DefaultGRPCRetryOn is the default of Retries.On for gRPC services.
var DefaultGRPCRetryOn = []string{"unavailable", "cancelled", "deadline-exceeded", "connect-failure"}

// Default fills in every default documented on the design's fields, so that after it every
// service has a namespace, protocol, named ports and identity, every route has a name and
// backends whose weights sum to a positive total, and so on. Optional sections that are nil
// (security, telemetry, retries, …) stay nil: their documented "nil" meaning applies. Default is
// idempotent and never fails; invalid values are left for Validate to report.
func (d *Design) Default() {
	if d.Metadata.Namespace == "" {
		d.Metadata.Namespace = DefaultNamespace
	}
	s := &d.Spec
	protocols := make(map[string]Protocol, len(s.Services)+len(s.ExternalServices))
	for i := range s.Services {
		svc := &s.Services[i]
		svc.defaults(d.Metadata.Namespace)
		protocols[svc.Name] = svc.Protocol
	}
	for i := range s.ExternalServices {
		es := &s.ExternalServices[i]
		es.defaults()
		protocols[es.Name] = es.Protocol
	}
	for i := range s.Traffic {
		tp := &s.Traffic[i]
		tp.defaults(protocols[tp.Service])
	}
	if s.Security != nil {
		s.Security.defaults()
	}
	if s.Telemetry != nil {
		s.Telemetry.defaults()
	}
	for i := range s.Extensions {
		e := &s.Extensions[i]
		if e.Phase == "" {
			e.Phase = PhaseUnspecified
		}
		if e.FailurePolicy == "" {
			e.FailurePolicy = FailClosed
		}
	}
}

func (svc *Service) defaults(ns string) {
	if svc.Namespace == "" {
		svc.Namespace = ns
	}
	if svc.Protocol == "" {
		svc.Protocol = ProtocolHTTP
	}
	if len(svc.Ports) == 0 {
		svc.Ports = []Port{{Port: 80}}
	}
	defaultPorts(svc.Ports, string(svc.Protocol))
	if svc.Identity == "" {
		svc.Identity = svc.Name
	}
	if len(svc.Selector) == 0 {
		svc.Selector = map[string]string{DefaultSelectorLabel: svc.Name}
	}
	if hc := svc.HealthCheck; hc != nil {
		if hc.Protocol == "" {
			switch svc.Protocol {
			case ProtocolGRPC:
				hc.Protocol = HealthCheckGRPC
			case ProtocolTCP:
				hc.Protocol = HealthCheckTCP
			default:
				hc.Protocol = HealthCheckHTTP
			}
		}
		if hc.Path == "" && hc.Protocol == HealthCheckHTTP {
			hc.Path = "/healthz"
		}
		if hc.Port == 0 {
			hc.Port = svc.Ports[0].Port
		}
		if hc.Interval.IsZero() {
			hc.Interval = Dur(10 * time.Second)
		}
		if hc.Timeout.IsZero() {
			hc.Timeout = Dur(time.Second)
		}
		if hc.HealthyThreshold == 0 {
			hc.HealthyThreshold = 1
		}
		if hc.UnhealthyThreshold == 0 {
			hc.UnhealthyThreshold = 3
		}
	}
}

// defaultPorts names ports after name (suffixed with the port number when there are several) and
// sets each target port to the port.
func defaultPorts(ports []Port, name string) {
	for i := range ports {
		p := &ports[i]
		if p.Name == "" {
			p.Name = name
			if len(ports) > 1 {
				p.Name = name + "-" + strconv.Itoa(int(p.Port))
			}
		}
		if p.TargetPort == 0 {
			p.TargetPort = p.Port
		}
	}
}

func (es *ExternalService) defaults() {
	if es.TLS != nil {
		if es.TLS.Mode == "" {
			es.TLS.Mode = ExternalTLSOriginate
		}
		if es.TLS.SNI == "" && len(es.Hosts) > 0 && !isWildcard(es.Hosts[0]) {
			es.TLS.SNI = es.Hosts[0]
		}
	}
	if es.Protocol == "" {
		es.Protocol = ProtocolHTTP
		if es.TLS != nil && es.TLS.Mode == ExternalTLSPassthrough {
			es.Protocol = ProtocolTCP
		}
	}
	portName := string(es.Protocol)
	if es.TLS != nil {
		portName = "https"
	}
	if len(es.Ports) == 0 {
		es.Ports = []Port{{Port: 80}}
		if es.TLS != nil {
			es.Ports = []Port{{Port: 443}}
		}
	}
	defaultPorts(es.Ports, portName)
}

func isWildcard(host string) bool { return len(host) > 0 && host[0] == '*' }

func (tp *TrafficPolicy) defaults(proto Protocol) {
	for i := range tp.Routes {
		r := &tp.Routes[i]
		if r.Name == "" {
			r.Name = "route-" + strconv.Itoa(i)
		}
		if len(r.Backends) == 0 {
			r.Backends = []Backend{{Service: tp.Service}}
		}
		anyWeight := false
		for j := range r.Backends {
			b := &r.Backends[j]
			if b.Service == "" {
				b.Service = tp.Service
			}
			if b.Weight != 0 {
				anyWeight = true
			}
		}
		if !anyWeight {
			n := int32(len(r.Backends))
			for j := range r.Backends {
				r.Backends[j].Weight = 100 / n
			}
			r.Backends[0].Weight += 100 % n
		}
		if rt := r.Retries; rt != nil {
			if len(rt.On) == 0 && proto != ProtocolTCP {
				if proto == ProtocolGRPC {
					rt.On = append([]string(nil), DefaultGRPCRetryOn...)
				} else {
					rt.On = append([]string(nil), DefaultRetryOn...)
				}
			}
			if b := rt.Backoff; b != nil && b.MaxInterval.IsZero() && b.BaseInterval.Duration > 0 {
				b.MaxInterval = Dur(10 * b.BaseInterval.Duration)
			}
			if b := rt.Budget; b != nil {
				if b.Percent == 0 {
					b.Percent = 20
				}
				if b.MinRetryConcurrency == 0 {
					b.MinRetryConcurrency = 3
				}
			}
		}
		if f := r.Fault; f != nil {
			if f.Delay != nil && f.Delay.Percent == 0 {
				f.Delay.Percent = 100
			}
			if f.Abort != nil && f.Abort.Percent == 0 {
				f.Abort.Percent = 100
			}
		}
		if m := r.Mirror; m != nil {
			if m.Service == "" {
				m.Service = tp.Service
			}
			if m.Percent == 0 {
				m.Percent = 100
			}
		}
	}
	res := tp.Resilience
	if res == nil {
		return
	}
	if od := res.OutlierDetection; od != nil {
		if od.Consecutive5xx == 0 {
			od.Consecutive5xx = 5
		}
		if od.Interval.IsZero() {
			od.Interval = Dur(10 * time.Second)
		}
		if od.BaseEjectionTime.IsZero() {
			od.BaseEjectionTime = Dur(30 * time.Second)
		}
		if od.MaxEjectionPercent == 0 {
			od.MaxEjectionPercent = 10
		}
	}
	if rl := res.RateLimit; rl != nil && rl.Burst == 0 {
		rl.Burst = rl.Count()
	}
	if lb := res.LoadBalancer; lb != nil {
		if lb.Algorithm == "" {
			lb.Algorithm = LBRoundRobin
			if lb.ConsistentHash != nil {
				lb.Algorithm = LBConsistentHash
			}
		}
		if ch := lb.ConsistentHash; ch != nil && ch.Cookie != nil && ch.Cookie.Path == "" {
			ch.Cookie.Path = "/"
		}
	}
}

func (s *Security) defaults() {
	if s.MTLS == "" {
		s.MTLS = MTLSStrict
	}
	if s.DefaultPolicy == "" {
		s.DefaultPolicy = ActionAllow
	}
	for i := range s.Access {
		a := &s.Access[i]
		if a.Action == "" {
			a.Action = ActionAllow
		}
		if a.Name == "" {
			a.Name = a.Destination + "-" + string(a.Action) + "-" + strconv.Itoa(i)
		}
	}
	for i := range s.RequestAuthentication {
		if s.RequestAuthentication[i].FromHeader == "" {
			s.RequestAuthentication[i].FromHeader = "Authorization"
		}
	}
}

func (t *Telemetry) defaults() {
	if m := t.Metrics; m != nil {
		if m.Enabled == nil {
			on := true
			m.Enabled = &on
		}
		if m.Provider == "" {
			m.Provider = "prometheus"
		}
	}
	if tr := t.Tracing; tr != nil {
		if tr.Provider == "" {
			tr.Provider = TracingOTLP
		}
		if tr.SamplingPercent == nil {
			one := 1.0
			tr.SamplingPercent = &one
		}
	}
	if al := t.AccessLogs; al != nil && al.Format == "" {
		al.Format = AccessLogJSON
	}
}

// Clone returns a deep copy of the design. The copy shares nothing mutable with the original;
// it keeps the original's source positions.
func (d *Design) Clone() *Design {
	if d == nil {
		return nil
	}
	c := deepCopy(reflect.ValueOf(*d)).Interface().(Design)
	c.src = d.src
	return &c
}

// deepCopy copies v, following pointers, slices, maps and interfaces.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v) // copies unexported fields (shared, immutable) and scalars
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(deepCopy(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			c.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(deepCopy(v.Elem()))
		return c
	}
	return v
}
