//go:build !linux

package rpc

// lowerThreadPriority does nothing where threads have no nice value of
// their own.
func lowerThreadPriority(int) {}
