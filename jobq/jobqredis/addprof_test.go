package jobqredis

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq/jobqdriver"
)

func TestTmpAddProf(t *testing.T) {
	if os.Getenv("TMPPROF") == "" {
		t.Skip()
	}
	d := newTestDriver(t)
	ctx := context.Background()
	mk := func() []*jobqdriver.Job {
		js := make([]*jobqdriver.Job, 100)
		for i := range js {
			js[i] = &jobqdriver.Job{Name: "bench", Data: []byte(`{"i":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`), Opts: jobqdriver.Opts{RemoveOnComplete: &jobqdriver.Keep{Count: 0}}}
		}
		return js
	}
	d.Add(ctx, "p", mk(), time.Now().UnixMilli())
	d.client.ConfigResetStat(ctx)
	for range 200 {
		if _, err := d.Add(ctx, "p", mk(), time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	s := d.client.Info(ctx, "commandstats").Val()
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "cmdstat_") {
			fmt.Println(l)
		}
	}
}
