package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tokend/tokend/server/storage"
)

// Group commit.
//
// Every write of the Store is a function queued to one writer goroutine.
// The writer takes the first waiting function, then every other one
// already waiting (at most maxBatch in all), and runs them in ONE
// transaction, each inside its own SAVEPOINT: a function that fails is
// rolled back to its savepoint and answered with its error, without
// touching the writes of its batch-mates. Then the transaction commits,
// once, with one fsync of the WAL, and every caller of the batch is
// answered. Nobody is answered before the commit that holds their write:
// durability is that of one transaction per write (synchronous=FULL), at
// the cost of one fsync per batch instead of one per write.
//
// The functions of a batch run one after the other in queue order, each
// seeing the writes of those before it, so the outcome is that of running
// them serially in that order: atomicity and isolation are unchanged.

// defaultMaxBatch bounds the writes of one transaction: enough to cover
// the concurrency of a busy server, few enough that one batch stays short.
const defaultMaxBatch = 64

// writeFunc is a write: it runs inside the writer's transaction. The ctx
// it is given carries the values of the caller's context but is never
// canceled: an interrupted statement could roll back the whole
// transaction of its batch-mates (sqlite3_interrupt does that to
// INSERT/UPDATE/DELETE in an explicit transaction). A caller that gives up
// before the writer takes its function withdraws it instead.
type writeFunc func(ctx context.Context, tx *wtx) error

// Op states.
const (
	opQueued int32 = iota
	opTaken
	opWithdrawn
)

type writeOp struct {
	ctx   context.Context
	fn    writeFunc
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on an answer
}

// writer is the Store's group committer.
type writer struct {
	db       *sql.DB
	stmts    *stmtCache    // prepared statements of db (stmts.go)
	queue    chan *writeOp // unbuffered: a send succeeds only while the writer runs
	stop     chan struct{}
	stopped  chan struct{}
	maxBatch int

	commits atomic.Int64 // transactions begun, for tests and stats
	ops     atomic.Int64 // writes run in them
	waiting atomic.Int64 // callers waiting for the writer to take their write
}

func newWriter(db *sql.DB, maxBatch int) *writer {
	w := &writer{
		db:       db,
		stmts:    newStmtCache(db),
		queue:    make(chan *writeOp),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		maxBatch: maxBatch,
	}
	go w.run()
	return w
}

// close stops the writer after the batch in progress; writes queued later
// fail with storage.ErrUnavailable.
func (w *writer) close() {
	close(w.stop)
	<-w.stopped
	_ = w.stmts.close()
}

// write queues fn and waits for the commit that holds it, or for its
// failure.
func (w *writer) write(ctx context.Context, fn writeFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	w.waiting.Add(1)
	select {
	case w.queue <- op:
		w.waiting.Add(-1)
	case <-w.stop:
		w.waiting.Add(-1)
		return fmt.Errorf("store is closed: %w", storage.ErrUnavailable)
	case <-ctx.Done():
		w.waiting.Add(-1)
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opWithdrawn) {
			return ctx.Err()
		}
		// The writer runs it already: its outcome is the answer, or the
		// caller could not tell whether it was written.
		return <-op.done
	}
}

func (w *writer) run() {
	defer close(w.stopped)
	batch := make([]*writeOp, 0, w.maxBatch)
	for {
		select {
		case op := <-w.queue:
			batch = append(batch[:0], op)
		case <-w.stop:
			return
		}
	gather:
		for len(batch) < w.maxBatch {
			select {
			case op := <-w.queue:
				batch = append(batch, op)
			default:
				break gather
			}
		}
		w.runBatch(batch)
		clear(batch)                                // let the answered ops go
		w.stmts.prepareWanted(context.Background()) // the connection is free now
	}
}

// runBatch runs the live ops of batch in one transaction and answers them.
func (w *writer) runBatch(batch []*writeOp) {
	live := batch[:0]
	for _, op := range batch {
		if op.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, op)
		}
	}
	if len(live) == 0 {
		return
	}
	errs := w.commit(live)
	for i, op := range live {
		op.done <- errs[i]
	}
}

// commit runs ops in one transaction and returns the error of each.
func (w *writer) commit(ops []*writeOp) []error {
	errs := make([]error, len(ops))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ctx := context.Background()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	tx := &wtx{tx: sqlTx, stmts: w.stmts}
	w.commits.Add(1)
	w.ops.Add(int64(len(ops)))
	if len(ops) == 1 { // alone: no savepoint needed
		op := ops[0]
		if err := op.fn(context.WithoutCancel(op.ctx), tx); err != nil {
			_ = sqlTx.Rollback() // fn's error is the one that matters
			return fail(err)
		}
		return fail(sqlTx.Commit())
	}
	ok := 0
	for i, op := range ops {
		if _, err := tx.Exec(ctx, `SAVEPOINT op`); err != nil {
			_ = sqlTx.Rollback()
			return fail(err)
		}
		if errs[i] = op.fn(context.WithoutCancel(op.ctx), tx); errs[i] == nil {
			ok++
			if _, err := tx.Exec(ctx, `RELEASE op`); err != nil {
				_ = sqlTx.Rollback()
				return fail(err)
			}
			continue
		}
		// Undo this op only. When SQLite already rolled the whole
		// transaction back (an I/O error, a full disk), the savepoint is
		// gone and the batch fails as a whole: none of it was written.
		_, rbErr := tx.Exec(ctx, `ROLLBACK TO op`)
		if rbErr == nil {
			_, rbErr = tx.Exec(ctx, `RELEASE op`)
		}
		if rbErr != nil {
			_ = sqlTx.Rollback()
			own := errs[i]
			fail(fmt.Errorf("batch rolled back: %w", rbErr))
			errs[i] = errors.Join(own, rbErr)
			return errs
		}
	}
	if ok == 0 {
		_ = sqlTx.Rollback()
		return errs
	}
	if err := sqlTx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}
