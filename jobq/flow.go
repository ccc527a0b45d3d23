package jobq

import (
	"context"
	"fmt"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// FlowJob is one node of a flow: a job and the children it waits for.
// Children may live in other queues.
type FlowJob struct {
	Name     string
	Queue    string
	Data     any
	Opts     *JobOptions
	Children []FlowJob
}

// FlowNode is an added flow node.
type FlowNode struct {
	Job      *Job
	Children []*FlowNode
}

// FlowProducerConfig configures a FlowProducer. The zero value is valid.
type FlowProducerConfig struct {
	// Clock is the producer's clock. Default: time.Now.
	Clock func() time.Time
}

// FlowProducer adds trees of parent and child jobs atomically. A parent
// waits in waiting-children until all its children complete, then runs and
// can read their results with Job.ChildrenValues.
type FlowProducer struct {
	drv   jobqdriver.Driver
	clock func() time.Time
}

// NewFlowProducer returns a FlowProducer on backend.
func NewFlowProducer(backend Backend, cfg *FlowProducerConfig) *FlowProducer {
	f := &FlowProducer{drv: backend, clock: time.Now}
	if cfg != nil && cfg.Clock != nil {
		f.clock = cfg.Clock
	}
	return f
}

// Add adds the flow in one atomic step and returns the tree with ids.
func (f *FlowProducer) Add(ctx context.Context, flow FlowJob) (*FlowNode, error) {
	now := f.clock()
	root, err := f.build(flow, now, true)
	if err != nil {
		return nil, err
	}
	if err := f.drv.AddFlow(ctx, root, now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("jobq: add flow: %w", err)
	}
	return f.wrap(root), nil
}

func (f *FlowProducer) build(fj FlowJob, now time.Time, root bool) (*jobqdriver.FlowNode, error) {
	if err := validQueueName(fj.Queue); err != nil {
		return nil, fmt.Errorf("flow job %q: %w", fj.Name, err)
	}
	if err := fj.Opts.validate(); err != nil {
		return nil, err
	}
	if !root && fj.Opts != nil && fj.Opts.Parent != nil {
		return nil, fmt.Errorf("%w: flow child %q sets Parent", ErrInvalidOption, fj.Name)
	}
	data, err := encodeData(fj.Data)
	if err != nil {
		return nil, err
	}
	n := &jobqdriver.FlowNode{Job: toDriver(f.drv, fj.Queue, fj.Name, data, fj.Opts, now)}
	for _, c := range fj.Children {
		cn, err := f.build(c, now, false)
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, cn)
	}
	return n, nil
}

func (f *FlowProducer) wrap(n *jobqdriver.FlowNode) *FlowNode {
	out := &FlowNode{Job: fromDriver(f.drv, n.Job)}
	for _, c := range n.Children {
		out.Children = append(out.Children, f.wrap(c))
	}
	return out
}
