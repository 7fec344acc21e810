-- The check-in log keeps one index fewer. checkins_tenant (tenant_id, id) cost about a third
-- of every append (more with many tenants: each commit wrote a page of it per tenant), and
-- what used it reads the log another way now: a tenant's runs are its jobs' chains merged
-- newest first, and retention walks the log oldest first with each tenant's cutoff.
DROP INDEX checkins_tenant;
