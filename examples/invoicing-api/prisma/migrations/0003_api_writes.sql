-- Issue 21: the API writes clients and invoices.
-- Clients get a version (optimistic locking of PATCH /clients/:id), like invoices.
ALTER TABLE clients ADD COLUMN version INT NOT NULL DEFAULT 1;
-- Which shape of seeded data a dataset holds: a dataset seeded before the invoice events carried
-- the client (and the documents the line descriptions in their autocomplete field) is seeded again
-- by the demo instead of being reused.
ALTER TABLE dataset ADD COLUMN format SMALLINT NOT NULL DEFAULT 1;
-- GET /invoices without filters: newest first, then id (the keyset of its cursors).
CREATE INDEX invoices_issued_id ON invoices (issued_at, id);
