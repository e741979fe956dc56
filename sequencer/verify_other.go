//go:build !linux

package sequencer

func lowerThreadPriority() {}
