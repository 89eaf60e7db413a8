// Package wire is the contract of civicflow's HTTP API v1: the JSON bodies
// of its requests and answers, one Go type each. The API (package api)
// binds requests into these types and answers with them; the web console
// (package web), an HTTP client of the API, sends and decodes the same
// types, and so do its tests' fake API. A field renamed here is renamed for
// both sides at once, and a side that still uses the old name fails to
// build instead of showing a blank page.
//
// JSON names are the API's public contract (clients and api/openapi.json
// rely on them): change them only with a new API version. The validate
// tags are go-playground/validator rules; the api package runs them with
// civicflow's own rules registered (idnumber, mobile, personname, notblank,
// date), so this package needs no validator. The API hashes a decoded
// application to recognise a repeated Idempotency-Key, so the fields of a
// request type are only ever added, at the end, never reordered.
//
// wire imports the domain (package civicflow) and the standard library,
// nothing else: neither side's machinery leaks into the contract.
package wire
