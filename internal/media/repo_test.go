package media

import (
	"context"
	"errors"
	"testing"

	"github.com/sevra/atlas/internal/store/storetest"
)

func repoSuite(t *testing.T, open storetest.Opener) {
	st := open(t)
	r := NewSQLRepo(st.DB(), st.Dialect())
	ctx := context.Background()
	id, err := r.Create(ctx, Owner{Type: "salon", ID: 3}, "incoming/x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Get(ctx, id)
	if err != nil || rec.Status != StatusProcessing || rec.OriginalKey != "incoming/x.jpg" || len(rec.Variants) != 0 || rec.Owner.ID != 3 {
		t.Fatalf("created %+v, %v", rec, err)
	}
	vs := map[string]Variant{"320w.jpg": {Key: "media/1/320w.jpg", Width: 320, Height: 240, Format: "jpeg", Bytes: 99}}
	if err := r.SetReady(ctx, id, Ready{Width: 640, Height: 480, Variants: vs, Placeholder: "LEHV6nWB2yk8pyo0adR*.7kCMdnj"}); err != nil {
		t.Fatal(err)
	}
	rec, _ = r.Get(ctx, id)
	if rec.Status != StatusReady || rec.Width != 640 || rec.Variants["320w.jpg"] != vs["320w.jpg"] || rec.Placeholder == "" {
		t.Fatalf("ready %+v", rec)
	}
	if err := r.SetFailed(ctx, id, "bad"); err != nil {
		t.Fatal(err)
	}
	if rec, _ = r.Get(ctx, id); rec.Status != StatusFailed || rec.Error != "bad" {
		t.Fatalf("failed %+v", rec)
	}
	if err := r.SetFailed(ctx, id+100, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetFailed(unknown) = %v", err)
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WithTx(tx).Create(ctx, Owner{Type: "user", ID: 1}, "incoming/y.jpg"); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
}

func TestSQLRepoSQLite(t *testing.T) {
	t.Parallel()
	repoSuite(t, storetest.OpenSQLite)
}

func TestSQLRepoPostgres(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t)
	repoSuite(t, storetest.OpenPostgres)
}
