package agentpb

import (
	"time"

	"github.com/sockbench/sockbench/loadgen"
)

// SpecFromOptions is the Spec that carries o. Progress and VegetaResults
// stay behind: they are the caller's, on the caller's machine; StartAt is
// the Start message's.
func SpecFromOptions(o loadgen.Options) *Spec {
	s := &Spec{
		Url: o.URL, Mode: string(o.Mode), Connections: int64(o.Connections), Threads: int64(o.Threads),
		DurationNs: int64(o.Duration), WarmupNs: int64(o.Warmup), TimeoutNs: int64(o.Timeout),
		Close: o.Close, Pipeline: int64(o.Pipeline), Rate: o.Rate, Pacer: string(o.Pacer),
		RateTo: o.RateTo, Amplitude: o.Amplitude, PeriodNs: int64(o.Period), Method: o.Method,
		Status: int64(o.Status), ChunkSize: int64(o.ChunkSize), MaxRequests: o.MaxRequests, Io: string(o.IO),
	}
	for _, h := range o.Headers {
		s.Headers = append(s.Headers, &Header{Name: h.Name, Value: h.Value})
	}
	return s
}

// Options are the loadgen.Options s carries; loadgen's own check then
// decides whether they can work.
func (s *Spec) Options() loadgen.Options {
	o := loadgen.Options{
		URL: s.GetUrl(), Mode: loadgen.Mode(s.GetMode()), Connections: int(s.GetConnections()), Threads: int(s.GetThreads()),
		Duration: time.Duration(s.GetDurationNs()), Warmup: time.Duration(s.GetWarmupNs()), Timeout: time.Duration(s.GetTimeoutNs()),
		Close: s.GetClose(), Pipeline: int(s.GetPipeline()), Rate: s.GetRate(), Pacer: loadgen.Pacer(s.GetPacer()),
		RateTo: s.GetRateTo(), Amplitude: s.GetAmplitude(), Period: time.Duration(s.GetPeriodNs()), Method: s.GetMethod(),
		Status: int(s.GetStatus()), ChunkSize: int(s.GetChunkSize()), MaxRequests: s.GetMaxRequests(), IO: loadgen.IO(s.GetIo()),
	}
	for _, h := range s.GetHeaders() {
		o.Headers = append(o.Headers, loadgen.Header{Name: h.GetName(), Value: h.GetValue()})
	}
	return o
}
