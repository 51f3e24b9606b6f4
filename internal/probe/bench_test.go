package probe

import (
	"context"
	"sync"
	"testing"
	"time"
)

func BenchmarkParsePacket(b *testing.B) {
	req := request(b, v4, 77, 3, 1, 2)
	reply := append(ipHeader(b, target4, local4, len(req)), replyTo(b, v4, req, nil)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := parsePacket(v4, reply, target4); !ok {
			b.Fatal("not parsed")
		}
	}
}

// BenchmarkEngineFake measures the engine's own cost per probe (queue,
// marshal, match, timer, callback) over fake sockets that echo at once.
func BenchmarkEngineFake(b *testing.B) {
	l := &fakeListener{}
	e, err := New(context.Background(), Config{Listener: l})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c := l.conn(NetworkRaw4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case p := <-c.sent:
				c.inject(replyTo(b, v4, p.b, nil), p.dst)
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	done := func(Result) { wg.Done() }
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		if err := e.Send(target4, time.Minute, done); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
