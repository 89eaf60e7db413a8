// Package schema holds civicflow's PostgreSQL schema as numbered SQL
// migrations, embedded so that the binary can migrate a database by itself.
package schema

import "embed"

// Migrations holds migrations/NNN_name.sql, applied in numeric order, each
// exactly once.
//
//go:embed migrations/*.sql
var Migrations embed.FS
