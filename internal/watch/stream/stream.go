// Package stream follows log records published on NATS JetStream
// subjects (the inventory's watch.nats entries) through a durable pull
// consumer, so that a restart resumes after the last record whose effect
// was stored. Each message is one or more records of one log format,
// parsed by the review's parsers; a message that does not parse is
// counted, acknowledged and never fatal.
//
// Delivery is at least once: messages are acknowledged (all up to the
// batch's last, waiting for the server to confirm) only after the
// handler returned; a crash between the two redelivers that batch after
// the consumer's ack wait. Messages fetched but not handled when Follow
// stops are negatively acknowledged, so that the next run gets them at
// once.
package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/watch"
)

// Defaults.
const (
	DefaultBatch = 256
	DefaultWait  = time.Second
)

// Config is one watch.nats entry.
type Config struct {
	URL     string // nats://host:port
	Subject string // may hold wildcards (logs.pg.>)
	// Type is the log format of the messages (a parser name).
	Type string
	// Durable names the consumer; a restart with the same name resumes.
	Durable string
	Parsers []logs.Parser
	// Batch is how many messages one fetch takes (DefaultBatch).
	Batch int
	// Wait bounds one fetch's wait for messages (DefaultWait).
	Wait time.Duration
}

// Follower follows one subject.
type Follower struct {
	cfg    Config
	parser logs.Parser
	counts watch.Counts
}

var _ watch.Follower = (*Follower)(nil)

// New checks cfg and returns a Follower.
func New(cfg Config) (*Follower, error) {
	const op = "watch: nats"
	if cfg.URL == "" || cfg.Subject == "" || cfg.Durable == "" || cfg.Type == "" {
		return nil, errs.New(op, errs.Invalid, cfg.Subject, "a nats entry needs url, subject, type and durable")
	}
	fl := &Follower{cfg: cfg}
	for _, p := range cfg.Parsers {
		if p.Name() == cfg.Type {
			fl.parser = p
		}
	}
	if fl.parser == nil {
		return nil, errs.New(op, errs.Invalid, cfg.Type, "unknown log format")
	}
	if fl.cfg.Batch <= 0 {
		fl.cfg.Batch = DefaultBatch
	}
	if fl.cfg.Wait <= 0 {
		fl.cfg.Wait = DefaultWait
	}
	return fl, nil
}

// Stats implements watch.Follower.
func (fl *Follower) Stats() map[string]logs.Stats { return fl.counts.Snapshot() }

// Follow implements watch.Follower.
func (fl *Follower) Follow(ctx context.Context, h watch.Handler) error {
	const op = "watch: nats"
	nc, err := nats.Connect(fl.cfg.URL, nats.Name("rekey watch"))
	if err != nil {
		return errs.E(op, errs.Unreachable, fl.cfg.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return errs.E(op, errs.Unreachable, fl.cfg.URL, err)
	}
	name, err := js.StreamNameBySubject(ctx, fl.cfg.Subject)
	if err != nil {
		return errs.E(op, errs.NotFound, fl.cfg.Subject, fmt.Errorf("no JetStream stream holds the subject: %w", err))
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{
		Durable: fl.cfg.Durable, FilterSubject: fl.cfg.Subject,
		AckPolicy: jetstream.AckAllPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return errs.E(op, errs.Unreachable, fl.cfg.Subject, err)
	}
	source := "nats:" + name + "/" + fl.cfg.Subject
	for ctx.Err() == nil {
		batch, err := cons.Fetch(fl.cfg.Batch, jetstream.FetchMaxWait(fl.cfg.Wait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errs.E(op, errs.Unreachable, source, err)
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() != nil {
				return nil
			}
			return errs.E(op, errs.Unreachable, source, err)
		}
		if len(msgs) == 0 {
			continue
		}
		if ctx.Err() != nil {
			nakAll(msgs)
			return nil
		}
		b, err := fl.parse(ctx, name, source, msgs)
		if err != nil {
			nakAll(msgs)
			return err
		}
		if err := h(ctx, b); err != nil {
			nakAll(msgs)
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fl.counts.Add(source, b.Stats)
		// AckAll: the last message acknowledges the batch. Wait for the
		// server, even when ctx just ended, so a restart does not see the
		// batch again.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = msgs[len(msgs)-1].DoubleAck(actx)
		cancel()
		if err != nil {
			return errs.E(op, errs.Unreachable, source, fmt.Errorf("ack: %w", err))
		}
	}
	return nil
}

func nakAll(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.Nak() // best effort: unacknowledged messages come back after the ack wait anyway
	}
}

// parse turns messages into a batch; each event's evidence is the stream
// and its sequence (File "nats:STREAM/SUBJECT", Line the sequence).
func (fl *Follower) parse(ctx context.Context, stream, source string, msgs []jetstream.Msg) (watch.Batch, error) {
	b := watch.Batch{Source: source}
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return b, err
		}
		file := "nats:" + stream + "/" + m.Subject()
		seq := int(md.Sequence.Stream)
		st, err := fl.parser.Parse(ctx, file, bytes.NewReader(m.Data()), func(e logs.Event) error {
			e.File, e.Line, e.Offset = file, seq, 0
			b.Events = append(b.Events, e)
			return nil
		})
		if err != nil {
			return b, err
		}
		b.Stats.Records += st.Records
		b.Stats.Events += st.Events
		for _, p := range st.Malformed {
			p.File, p.Line, p.Offset = file, seq, 0
			b.Stats.AddMalformed(p)
		}
		b.Stats.MalformedCount += st.MalformedCount - len(st.Malformed)
	}
	return b, nil
}
