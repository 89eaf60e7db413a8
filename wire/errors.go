package wire

import "civicflow"

// ErrorAnswer is the body of every error answer of the API (status 4xx or
// 5xx).
type ErrorAnswer struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a domain error code (civicflow.E*) or
// a protocol one (bad_request, unsupported_media_type,
// method_not_allowed), a message for people and, for invalid input
// (422), the fields at fault.
type ErrorDetail struct {
	Code    string                 `json:"code"`
	Message string                 `json:"message"`
	Fields  []civicflow.FieldError `json:"fields,omitempty"`
	// Reference names the open case of a duplicate application (masked
	// unless the caller may see it).
	Reference string `json:"reference,omitempty"`
}

// ErrorOf is the answer to the domain error e.
func ErrorOf(e *civicflow.Error) ErrorAnswer {
	return ErrorAnswer{Error: ErrorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields, Reference: e.Reference}}
}

// Domain is the domain error an error answer carries.
func (a ErrorAnswer) Domain() *civicflow.Error {
	d := a.Error
	return &civicflow.Error{Code: d.Code, Message: d.Message, Fields: d.Fields, Reference: d.Reference}
}
