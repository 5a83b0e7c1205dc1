package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// Attack runs one attack for a coordinator: Prepare (checked, the target
// probed), Ready, Start at the given instant, Seconds and Heartbeats while
// it runs, then Final. See agent.proto.
func (s *service) Attack(stream agentpb.Agent_AttackServer) error {
	ctx := stream.Context()
	who := []any{"peer", peerName(ctx)}
	if c := certName(ctx); c != "" {
		who = append(who, "cert", c)
	}
	in, recvErr := receive(ctx, stream)

	var prep *agentpb.Prepare
	select {
	case m := <-in:
		prep = m.GetPrepare()
	case err := <-recvErr:
		return err
	case <-time.After(s.cfg.StartWait):
		return status.Errorf(codes.DeadlineExceeded, "no Prepare within %s of the call", s.cfg.StartWait)
	}
	if prep.GetSpec() == nil {
		return status.Error(codes.InvalidArgument, "an attack starts with Prepare and its spec")
	}
	o, original, err := s.admit(ctx, prep.GetSpec())
	if err != nil {
		s.cfg.Log.Warn("refused an attack", append(who, "run", prep.GetRun(), "url", prep.GetSpec().GetUrl(), "reason", status.Convert(err).Message())...)
		return err
	}
	if !s.busy.TryLock() {
		msg := fmt.Sprintf("this agent is running another attack (%s)", s.running.Load())
		s.cfg.Log.Warn("refused an attack", append(who, "run", prep.GetRun(), "reason", msg)...)
		return status.Error(codes.ResourceExhausted, msg)
	}
	s.running.Store(fmt.Sprintf("run %q for %s", prep.GetRun(), peerName(ctx)))
	// The agent is free once the attack's loops have stopped, before it
	// says so in its log or sends the result: whoever reads "attack
	// stopped" may start the next one.
	var release sync.Once
	defer release.Do(s.busy.Unlock)
	asked := append(who, "run", prep.GetRun(), "target", original, "attacking", o.URL, "mode", string(o.Mode),
		"connections", o.Connections, "duration", o.Duration.String(), "warmup", o.Warmup.String())
	if o.Rate > 0 {
		asked = append(asked, "rate", o.Rate)
	}
	s.cfg.Log.Info("attack asked", asked...)

	if err := probe(ctx, o); err != nil {
		s.cfg.Log.Warn("target unreachable", append(who, "run", prep.GetRun(), "reason", err.Error())...)
		return status.Error(codes.FailedPrecondition, err.Error())
	}

	cpu0 := processCPU()
	out := newSender(stream, s.cfg.Heartbeat, cpu0)
	defer out.close()
	out.send(&agentpb.Report{Msg: &agentpb.Report_Ready{Ready: &agentpb.Ready{}}})

	// Wait for the instant to start at.
	var startAt time.Time
	select {
	case m := <-in:
		switch {
		case m.GetStart() != nil:
			// On the agent's clock; the machine's is what timers use.
			startAt = time.Unix(0, m.GetStart().GetAtUnixNano()).Add(-s.cfg.clockSkew)
		case m.GetStop() != nil:
			s.cfg.Log.Info("attack stopped before its start", append(who, "reason", m.GetStop().GetReason())...)
			return nil
		default:
			return status.Error(codes.InvalidArgument, "after Ready the coordinator sends Start or Stop")
		}
	case err := <-recvErr:
		s.cfg.Log.Warn("coordinator gone before the start", append(who, "reason", err.Error())...)
		return err
	case <-out.failed:
		return out.err
	case <-time.After(s.cfg.StartWait):
		return status.Errorf(codes.DeadlineExceeded, "no Start within %s of Ready", s.cfg.StartWait)
	}
	if wait := time.Until(startAt); wait > s.cfg.StartWait {
		return status.Errorf(codes.InvalidArgument, "start %s from now is further off than this agent waits (%s)", wait.Round(time.Millisecond), s.cfg.StartWait)
	}

	// The attack ends with its window, when the coordinator says stop,
	// when its stream breaks (ctx), and in any case a grace period after
	// its planned end.
	end := startAt.Add(o.Warmup + o.Duration + s.cfg.Grace)
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	stopped := make(chan string, 1)
	go func() {
		for {
			select {
			case m := <-in:
				if m.GetStop() != nil {
					stopped <- m.GetStop().GetReason()
					cancel()
					return
				}
			case <-recvErr:
				cancel()
				return
			case <-out.failed:
				cancel()
				return
			case <-runCtx.Done():
				return
			}
		}
	}()

	o.Progress = func(sec loadgen.Second) {
		out.second(sec)
	}
	// Run checks the options and the machine first, then waits for the
	// instant: what it does before the start does not skew it.
	o.StartAt = startAt
	r, err := loadgen.Run(runCtx, o)
	release.Do(s.busy.Unlock)
	if err != nil && runCtx.Err() != nil {
		s.cfg.Log.Warn("attack ended before its start", append(who, "reason", context.Cause(runCtx).Error())...)
		return status.FromContextError(runCtx.Err()).Err()
	}
	if err != nil {
		s.cfg.Log.Warn("attack failed", append(who, "reason", err.Error())...)
		return status.Errorf(codes.Aborted, "the attack could not run on this agent: %v", err)
	}
	if ctx.Err() != nil {
		s.cfg.Log.Warn("coordinator gone: attack stopped", append(who, "after", fmt.Sprintf("%.2fs", r.Duration), "requests", r.Requests)...)
		return status.FromContextError(ctx.Err()).Err()
	}
	select {
	case why := <-stopped:
		s.cfg.Log.Info("attack stopped by the coordinator", append(who, "reason", why)...)
	default:
		if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
			s.cfg.Log.Warn("attack ended by the grace period past its window", who...)
		}
	}
	r.URL = original
	r.Start = r.Start.Add(s.cfg.clockSkew)
	data, err := json.Marshal(r)
	if err != nil {
		return status.Errorf(codes.Internal, "encoding the result: %v", err)
	}
	out.send(&agentpb.Report{Msg: &agentpb.Report_Final{Final: &agentpb.Final{Result: data}}})
	if err := out.close(); err != nil {
		return err
	}
	cpu := processCPU().sub(cpu0)
	s.cfg.Log.Info("attack done", append(who, "requests", r.Requests, "errors", r.Errors.Total(),
		"requests_per_sec", fmt.Sprintf("%.0f", r.RequestsPerS), "cpu_seconds", fmt.Sprintf("%.2f", (cpu.user+cpu.sys).Seconds()),
		"saturated", r.Saturated, "interrupted", r.Interrupted)...)
	return nil
}

// admit decides whether the spec may run here: options that work, within
// the limits, at an allowed target. It returns the options to run, the
// target pinned to the address it was checked at, and the URL as asked.
func (s *service) admit(ctx context.Context, spec *agentpb.Spec) (loadgen.Options, string, error) {
	o := spec.Options()
	if err := o.Check(loadgen.FlagName); err != nil {
		return o, "", status.Errorf(codes.InvalidArgument, "the attack's options cannot work: %v", err)
	}
	o = o.WithDefaults()
	if err := s.cfg.Limits.check(o); err != nil {
		return o, "", status.Error(codes.PermissionDenied, err.Error())
	}
	original := o.URL
	pinned, host, err := s.cfg.Allow.pin(ctx, s.cfg.resolver, o.URL)
	if err != nil {
		return o, "", status.Error(codes.PermissionDenied, err.Error())
	}
	o.URL = pinned
	if host != "" && o.Mode != loadgen.Stream && !hasHeader(o.Headers, "Host") {
		o.Headers = append(o.Headers, loadgen.Header{Name: "Host", Value: host})
	}
	// What this machine allows (descriptors, local ports) is known here
	// only.
	if err := o.CheckLimits(loadgen.FlagName); err != nil {
		return o, "", status.Errorf(codes.FailedPrecondition, "this agent's machine cannot carry the attack: %v", err)
	}
	return o, original, nil
}

func hasHeader(hs []loadgen.Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// probe checks that the target accepts a connection from here, so that an
// unreachable target fails the attack before anyone starts.
func probe(ctx context.Context, o loadgen.Options) error {
	u, err := url.Parse(o.URL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	d := net.Dialer{Timeout: o.Timeout}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("target %s does not accept connections from this agent: %v", host, err)
	}
	return c.Close()
}

// receive reads the coordinator's messages into a channel until the stream
// ends, which it then reports on the error channel.
func receive(ctx context.Context, stream agentpb.Agent_AttackServer) (<-chan *agentpb.Control, <-chan error) {
	in := make(chan *agentpb.Control)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- fmt.Errorf("the coordinator's stream ended: %w", err)
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return in, errc
}
