package cli

import (
	"log/slog"

	"github.com/sevra/atlas/internal/dashboard"
	"github.com/sevra/atlas/internal/httpapi"
)

// newDashboard builds the /admin/jobs dashboard from a process's services
// (nil when there is no queue backend, as in tests that replace
// buildServices).
func newDashboard(svc Services, cfg *Config, log *slog.Logger) (httpapi.Dashboard, error) {
	if svc.Queues == nil {
		return nil, nil
	}
	dc := dashboard.Config{Backend: svc.Queues, Modes: cfg.Modes, AdminToken: cfg.AdminToken, Logger: log}
	if svc.Outbox != nil {
		dc.Outbox = svc.Outbox
	}
	if svc.Shadow != nil {
		dc.Shadow = svc.Shadow
	}
	return dashboard.New(dc)
}
