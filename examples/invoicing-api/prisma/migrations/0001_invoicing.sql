-- The invoicing schema (kept in step with prisma/schema.prisma). Amounts are integer cents.
CREATE TABLE clients (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(160) NOT NULL,
  tax_id VARCHAR(20) NOT NULL,
  city VARCHAR(80) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY clients_tax_id (tax_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE invoices (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  number VARCHAR(32) NOT NULL,
  client_id INT NOT NULL,
  status VARCHAR(16) NOT NULL,
  issued_at DATE NOT NULL,
  due_at DATE NOT NULL,
  currency CHAR(3) NOT NULL,
  net_cents INT NOT NULL,
  tax_cents INT NOT NULL,
  total_cents INT NOT NULL,
  description VARCHAR(500) NOT NULL,
  version INT NOT NULL DEFAULT 1,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY invoices_number (number),
  -- a client's invoices, newest first (client page, "last invoices of X")
  KEY invoices_client_issued (client_id, issued_at),
  -- the dashboard's GROUP BY status and "open invoices by date"
  KEY invoices_status_issued (status, issued_at),
  -- the monthly report: a covering index, the whole aggregation reads the index only
  KEY invoices_issued_report (issued_at, status, currency, total_cents),
  CONSTRAINT invoices_client FOREIGN KEY (client_id) REFERENCES clients (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE invoice_lines (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  invoice_id INT NOT NULL,
  position SMALLINT NOT NULL,
  description VARCHAR(300) NOT NULL,
  quantity INT NOT NULL,
  unit_price_cents INT NOT NULL,
  tax_rate_bp INT NOT NULL,
  -- one invoice's lines in order (GET /invoices/:id loads them with this index)
  UNIQUE KEY invoice_lines_invoice_position (invoice_id, position),
  CONSTRAINT invoice_lines_invoice FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Which generation of seeded data the database holds: the app derives its Redis namespace, Kafka
-- topic and search index names from it, so a re-seed never mixes with the previous figures.
CREATE TABLE dataset (
  id TINYINT NOT NULL PRIMARY KEY,
  generation VARCHAR(40) NOT NULL,
  invoices INT NOT NULL,
  seeded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
