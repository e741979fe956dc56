package chain

import (
	"errors"
	"sync"
)

// ErrSubscriberTooSlow ends a subscription whose buffer filled up: the
// subscriber is told, never silently skipped.
var ErrSubscriberTooSlow = errors.New("subscriber too slow: buffer full, notifications would be lost")

// Feed fans values out to subscribers without ever blocking the sender: each
// subscriber has a buffer, and one that lets it fill is dropped with
// ErrSubscriberTooSlow instead of losing values.
type Feed[T any] struct {
	mu   sync.Mutex
	subs map[*Subscription[T]]struct{}
}

// Subscription receives a feed's values on C until Err yields.
type Subscription[T any] struct {
	feed *Feed[T]
	c    chan T
	err  chan error
	once sync.Once
}

// C delivers values in the order they were sent; a nil subscription's
// never delivers (so a select may list an optional feed).
func (s *Subscription[T]) C() <-chan T {
	if s == nil {
		return nil
	}
	return s.c
}

// Err yields once when the feed drops the subscriber (then C is drained of
// what was buffered before the drop and not written again).
func (s *Subscription[T]) Err() <-chan error {
	if s == nil {
		return nil
	}
	return s.err
}

// Unsubscribe stops delivery; it is idempotent.
func (s *Subscription[T]) Unsubscribe() {
	s.feed.mu.Lock()
	delete(s.feed.subs, s)
	s.feed.mu.Unlock()
}

// Subscribe registers a subscriber with a buffer of size values.
func (f *Feed[T]) Subscribe(size int) *Subscription[T] {
	s := &Subscription[T]{feed: f, c: make(chan T, size), err: make(chan error, 1)}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[*Subscription[T]]struct{})
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Send delivers v to every subscriber and returns how many got it.
func (f *Feed[T]) Send(v T) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for s := range f.subs {
		select {
		case s.c <- v:
			n++
		default:
			delete(f.subs, s)
			s.once.Do(func() { s.err <- ErrSubscriberTooSlow })
		}
	}
	return n
}

// Len is the number of subscribers.
func (f *Feed[T]) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}
