package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// Timing of an attack's start and end.
const (
	// startLead is how far ahead of now the start is set, beyond four
	// round trips to the farthest agent: long enough for every Start to
	// arrive and every agent to be waiting.
	startLead = 100 * time.Millisecond
	// stopWait is how long agents told to stop have to send their results
	// before their streams are cut.
	stopWait = 2 * time.Second
	// endSlack is how long past the agents' own grace period the
	// coordinator waits for their results before it gives up on them.
	endSlack = 5 * time.Second
)

// Run carries out o on every agent, o's connections, event loops, rates
// and request limit shared among them, and merges their results into one,
// which keeps each agent's own figures in its Agents. o's
// Progress, when set, receives each second merged across the agents.
// Cancelling ctx stops the agents early: Run then returns what they
// measured, marked Interrupted, as loadgen.Run does.
//
// An agent lost once the attack has started (dead, cut off, silent) stops
// the others, and Run returns what they measured, with the lost agents and
// why in the result's LostAgents (see its CheckComplete). A *LostError
// means the attack started and nothing measured is kept: every agent was
// lost, or this coordinator was itself stopped long enough to lose them.
// Any other error came before the start and names the agent that failed;
// the others have been told to stop.
func (c *Coordinator) Run(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
	if o.VegetaResults != nil {
		return nil, errors.New("vegeta-encoded results stay on the agents: --vegeta-out does not apply to a distributed attack")
	}
	if err := o.Check(loadgen.FlagName); err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	watch := watchStalls(c.cfg.Silence)
	defer watch.stop()
	agents, err := c.connect(ctx)
	if err != nil {
		if stalled := watch.stallError(err); stalled != nil {
			return nil, stalled
		}
		return nil, err
	}
	defer closeAll(agents)
	shares, err := split(o, len(agents))
	if err != nil {
		return nil, err
	}
	prepares := make([]*agentpb.Control, len(shares))
	for i, share := range shares {
		prepares[i] = &agentpb.Control{Msg: &agentpb.Control_Prepare{Prepare: &agentpb.Prepare{
			Spec: agentpb.SpecFromOptions(share), Run: c.cfg.Run,
		}}}
		if n := proto.Size(prepares[i]); n > agentpb.MaxControlBytes {
			return nil, fmt.Errorf("the attack's spec takes %d bytes, more than the %d an agent accepts in a message: its URL or its headers are too long", n, agentpb.MaxControlBytes)
		}
	}
	a := &attack{
		c: c, o: o, agents: agents, shares: shares, prepares: prepares, watch: watch,
		streams: make([]agentpb.Agent_AttackClient, len(agents)),
		cancels: make([]context.CancelFunc, len(agents)),
		ended:   make([]bool, len(agents)),
		lost:    make([]error, len(agents)),
		finals:  make([]*loadgen.Result, len(agents)),
		events:  make(chan event, 4*len(agents)),
		seconds: newSeconds(len(agents), o.Progress),
	}
	return a.run(ctx)
}

// attack is one Run in progress.
type attack struct {
	c        *Coordinator
	o        loadgen.Options
	agents   []*agentConn
	shares   []loadgen.Options
	prepares []*agentpb.Control
	watch    *stallWatch
	streams  []agentpb.Agent_AttackClient
	cancels  []context.CancelFunc
	// ended marks the agents whose stream has delivered its last event.
	ended []bool
	// lost holds why each agent that sent no result was lost.
	lost    []error
	finals  []*loadgen.Result
	events  chan event
	seconds *seconds
}

// event is one report from agent i, or the error that ended its stream.
type event struct {
	i   int
	r   *agentpb.Report
	err error
}

func (a *attack) run(ctx context.Context) (*loadgen.Result, error) {
	// The streams outlive a cancelled ctx: interrupted agents still send
	// what they measured.
	base := context.WithoutCancel(ctx)
	defer func() {
		for _, cancel := range a.cancels {
			if cancel != nil {
				cancel()
			}
		}
	}()
	open := 0
	for i, ag := range a.agents {
		sctx, cancel := context.WithCancel(base)
		a.cancels[i] = cancel
		stream, err := ag.rpc.Attack(sctx)
		if err != nil {
			a.stopAll("another agent could not be reached")
			a.drain(open)
			return nil, &AgentError{Agent: ag.label, Err: describeCallError(err, a.c.cfg.ConnectTimeout)}
		}
		a.streams[i] = stream
		// A send error shows again, with its cause, on the stream's Recv.
		stream.Send(a.prepares[i])
		// Before Ready an agent probes the target, which may take the
		// attack's timeout.
		go a.read(i, a.o.Timeout+a.c.cfg.Silence)
		open++
	}

	// The window's edges, on this clock, for the caller that samples
	// beside it (the runner, the server's CPU): at the agreed instant
	// plus the warm-up, not when Run was called.
	windowEnded := func() {}
	defer func() { windowEnded() }()
	var (
		ready, done int
		agreed      time.Time
		failure     error
		stopping    bool
		deadline    <-chan time.Time
		giveUp      <-chan time.Time
		ctxDone     = ctx.Done()
	)
	// stop tells the agents still running to stop, and gives them wait to
	// send what they measured.
	stop := func(reason string, wait time.Duration) {
		if !stopping {
			stopping = true
			a.stopAll(reason)
			giveUp = time.After(wait)
		}
	}
	fail := func(err error) {
		if failure == nil {
			failure = err
			stop(err.Error(), stopWait)
		}
	}
	// lose records agent i as lost: before the start that fails the
	// attack; after it the others are stopped, and what they measured is
	// kept. A reason the coordinator gave when it cut the agent off
	// stands.
	lose := func(i int, err error) {
		if a.lost[i] == nil {
			a.lost[i] = err
		}
		err = &AgentError{Agent: a.agents[i].label, Err: a.lost[i]}
		switch stalled := a.watch.stallError(err); {
		case stalled != nil:
			fail(stalled)
		case agreed.IsZero():
			fail(err)
		default:
			stop("another agent was lost: "+err.Error(), stopWait)
		}
	}
	for done < len(a.agents) {
		select {
		case ev := <-a.events:
			switch {
			case ev.err != nil:
				done++
				a.ended[ev.i] = true
				lose(ev.i, ev.err)
			case ev.r.GetReady() != nil:
				ready++
				if ready == len(a.agents) && !stopping {
					agreed = a.start()
					windowEnded = loadgen.WatchWindow(a.o.OnWindow, agreed.Add(a.o.Warmup), a.o.Duration)
					end := agreed.Add(a.o.Warmup + a.o.Duration + agentpb.Grace + endSlack)
					deadline = time.After(time.Until(end))
				}
			case ev.r.GetSecond() != nil:
				a.seconds.add(ev.r.GetSecond())
			case ev.r.GetFinal() != nil:
				done++
				a.ended[ev.i] = true
				a.streams[ev.i].CloseSend()
				r, err := decodeResult(ev.r.GetFinal().GetResult())
				if err != nil {
					lose(ev.i, err)
					break
				}
				a.finals[ev.i] = r
			}
		case <-ctxDone:
			ctxDone = nil
			if agreed.IsZero() {
				fail(errors.New("interrupted before the attack started"))
				break
			}
			stop("the coordinator was interrupted", stopWait+a.o.Timeout)
		case <-deadline:
			deadline = nil
			a.cutOff(fmt.Errorf("it sent no result %s past the attack's planned end", agentpb.Grace+endSlack))
		case <-giveUp:
			giveUp = nil
			a.cutOff(errors.New("it sent no result once told to stop"))
		}
	}
	if failure != nil {
		return nil, failure
	}
	return a.merge(agreed)
}

// cutOff ends the streams of the agents still running, lost for why.
func (a *attack) cutOff(why error) {
	for i, cancel := range a.cancels {
		if !a.ended[i] {
			if a.lost[i] == nil {
				a.lost[i] = why
			}
			cancel()
		}
	}
}

// read delivers agent i's reports as events until its stream ends, with
// one last event: its Final or the error that ended it. An agent silent
// for longer than it may be is cut off.
func (a *attack) read(i int, firstSilence time.Duration) {
	var silent atomic.Bool
	limit := firstSilence
	timer := time.AfterFunc(limit, func() {
		silent.Store(true)
		a.cancels[i]()
	})
	defer timer.Stop()
	for {
		r, err := a.streams[i].Recv()
		if err != nil {
			switch {
			case silent.Load():
				err = fmt.Errorf("nothing heard from it for %s (it sends a heartbeat every %s): it died, was cut off or is stopped", limit, agentpb.HeartbeatInterval)
			case errors.Is(err, io.EOF):
				err = errors.New("it ended the attack without sending its result")
			case limit == a.c.cfg.Silence && status.Code(err) == codes.Unavailable:
				err = fmt.Errorf("its stream broke mid-attack (%s): the agent died, restarted or was cut off", status.Convert(err).Message())
			default:
				err = describeCallError(err, a.c.cfg.ConnectTimeout)
			}
			a.events <- event{i: i, err: err}
			return
		}
		if r.GetReady() != nil {
			limit = a.c.cfg.Silence
		}
		if !timer.Reset(limit) && silent.Load() {
			// The timer fired while this message was on its way; the
			// stream is being cancelled and Recv will say so.
			continue
		}
		a.events <- event{i: i, r: r}
		if r.GetFinal() != nil {
			return
		}
	}
}

// start sets the agreed instant and sends it to every agent on its own
// clock.
func (a *attack) start() time.Time {
	var farthest time.Duration
	for _, ag := range a.agents {
		farthest = max(farthest, ag.clock.rtt)
	}
	agreed := time.Now().Add(startLead + 4*farthest).Round(0)
	for i, ag := range a.agents {
		at := agreed.Add(ag.clock.offset)
		a.streams[i].Send(&agentpb.Control{Msg: &agentpb.Control_Start{Start: &agentpb.Start{AtUnixNano: at.UnixNano()}}})
	}
	a.c.cfg.Log.Info("attack started", "agents", len(a.agents), "at", agreed.Format(time.RFC3339Nano))
	return agreed
}

// stopAll tells every agent still running to stop.
func (a *attack) stopAll(reason string) {
	for i, s := range a.streams {
		if s != nil && !a.ended[i] {
			s.Send(&agentpb.Control{Msg: &agentpb.Control_Stop{Stop: &agentpb.Stop{Reason: reason}}})
		}
	}
}

// drain waits for the last events of the first n streams after a failure
// to open the others.
func (a *attack) drain(n int) {
	timeout := time.After(stopWait)
	for done := 0; done < n; {
		select {
		case ev := <-a.events:
			if ev.err != nil || ev.r.GetFinal() != nil {
				done++
			}
		case <-timeout:
			for _, cancel := range a.cancels {
				if cancel != nil {
					cancel()
				}
			}
			timeout = nil
		}
	}
}

func decodeResult(data []byte) (*loadgen.Result, error) {
	var r loadgen.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("its result does not decode: %v", err)
	}
	if r.FormatVersion != loadgen.FormatVersion {
		return nil, fmt.Errorf("its result has format version %d; this coordinator reads %d", r.FormatVersion, loadgen.FormatVersion)
	}
	if _, err := r.Histogram(); err != nil {
		return nil, fmt.Errorf("its result: %w", err)
	}
	return &r, nil
}
