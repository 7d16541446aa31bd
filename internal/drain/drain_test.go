package drain_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/drain"
)

func TestSignal(t *testing.T) {
	s := drain.New()
	ctx := drain.With(context.Background(), s)
	if drain.Started(ctx) {
		t.Fatal("started before Start")
	}
	waitCtx, release := drain.Context(ctx)
	defer release()
	s.Start()
	s.Start() // twice: no panic
	select {
	case <-waitCtx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context was not cancelled by Start")
	}
	if !drain.Started(ctx) || ctx.Err() != nil {
		t.Fatalf("started %v, parent err %v: the parent must stay alive", drain.Started(ctx), ctx.Err())
	}
}

func TestNoSignal(t *testing.T) {
	ctx := context.Background()
	if drain.Done(ctx) != nil || drain.Started(ctx) {
		t.Fatal("a context without a signal drains")
	}
	waitCtx, release := drain.Context(ctx)
	if waitCtx.Err() != nil {
		t.Fatal("cancelled early")
	}
	release()
	if waitCtx.Err() == nil {
		t.Fatal("release did not cancel")
	}
}
