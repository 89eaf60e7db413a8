// Package civicflow holds the domain of civicflow: cases, stages, actions,
// roles, jurisdictions and the error codes every adapter maps to its own
// protocol. It depends on the standard library only.
package civicflow

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Adapters translate them to their protocol (HTTP status,
// Temporal application error type) in exactly one place each.
const (
	EINVALID      = "invalid"      // input fails validation; Fields says where
	ENOTFOUND     = "not_found"    // the thing asked for does not exist (or is not visible)
	ECONFLICT     = "conflict"     // not allowed in the current state (wrong stage, duplicate)
	EFORBIDDEN    = "forbidden"    // the actor's role or jurisdiction does not allow it
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	ETOOLARGE     = "too_large"    // payload beyond a limit
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retrying later may work
	ETOOMANY      = "rate_limited" // too many attempts (failed logins, access codes); wait and retry
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details are logged, not shown
)

// FieldError names one input field and why it was refused.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the domain error: a code for machines, a message for people and,
// for EINVALID, the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Reference names the existing case a conflict is about (a duplicate
	// application); adapters decide how much of it the caller may see.
	Reference string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("civicflow %s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return fmt.Sprintf("civicflow %s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the fields at fault.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: EINVALID, Message: "the request has invalid fields", Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-facing message of err. Internal errors get a
// generic message so that no implementation detail leaks to users.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "an internal error occurred"
	}
}
