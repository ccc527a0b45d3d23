package jobqredis

import (
	"reflect"
	"testing"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

// TestParseWorkers reads a CLIENT LIST answer as BullMQ 6.7's getWorkers
// does: the connection named "<prefix>:<base64 queue>" (an unnamed
// worker) or with ":w:<name>", and nothing else.
func TestParseWorkers(t *testing.T) {
	t.Parallel()
	base := WorkerClientName("bull", "media", "") // bull:bWVkaWE=
	if base != "bull:bWVkaWE=" {
		t.Fatalf("client name %q", base)
	}
	list := "id=3 addr=10.0.0.5:40001 laddr=10.0.0.1:6379 fd=8 name=bull:bWVkaWE=:w:node-1 age=120 idle=2 flags=b db=0 cmd=bzpopmin\n" +
		"id=4 addr=10.0.0.6:40002 laddr=10.0.0.1:6379 fd=9 name=bull:bWVkaWE= age=30 idle=0 flags=b db=0 cmd=bzpopmin\n" +
		"id=5 addr=10.0.0.7:40003 laddr=10.0.0.1:6379 fd=10 name=bull:bWVkaWEy:w:other-queue age=5 idle=0 flags=N db=0 cmd=client\n" +
		"id=6 addr=10.0.0.8:40004 laddr=10.0.0.1:6379 fd=11 name= age=5 idle=0 flags=N db=0 cmd=client\n"
	const now = 1_000_000_000
	got := parseWorkers(list, base, now)
	want := []jobqdriver.WorkerInfo{
		{Name: "node-1", Host: "10.0.0.5:40001", Started: now - 120_000, LastSeen: now - 2_000},
		{Name: "", Host: "10.0.0.6:40002", Started: now - 30_000, LastSeen: now},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseWorkers:\n got %+v\nwant %+v", got, want)
	}
	merged := mergeNamed([]jobqdriver.WorkerInfo{
		{Name: "a", Started: 5, LastSeen: 7}, {Name: "", Started: 1}, {Name: "a", Started: 3, LastSeen: 9}, {Name: ""},
	})
	if !reflect.DeepEqual(merged, []jobqdriver.WorkerInfo{{Name: "a", Started: 3, LastSeen: 9}, {Name: "", Started: 1}, {Name: ""}}) {
		t.Fatalf("mergeNamed: %+v", merged)
	}
}
