package api

import (
	"errors"
	"net/http"

	"civicflow/temporalerr"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// statusOf maps domain error codes to HTTP statuses: the one place this
// happens.
var statusOf = map[string]int{
	civicflow.EINVALID:      http.StatusUnprocessableEntity,
	civicflow.ENOTFOUND:     http.StatusNotFound,
	civicflow.ECONFLICT:     http.StatusConflict,
	civicflow.EFORBIDDEN:    http.StatusForbidden,
	civicflow.EUNAUTHORIZED: http.StatusUnauthorized,
	civicflow.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	civicflow.EUNAVAILABLE:  http.StatusServiceUnavailable,
	civicflow.EINTERNAL:     http.StatusInternalServerError,
	civicflow.ETOOMANY:      http.StatusTooManyRequests,
}

// Codes for protocol-level errors that have no domain meaning.
const (
	codeBadRequest       = "bad_request"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
)

var codeOfStatus = map[int]string{
	http.StatusBadRequest:            codeBadRequest,
	http.StatusUnsupportedMediaType:  codeUnsupportedMedia,
	http.StatusMethodNotAllowed:      codeMethodNotAllowed,
	http.StatusNotFound:              civicflow.ENOTFOUND,
	http.StatusRequestEntityTooLarge: civicflow.ETOOLARGE,
	http.StatusUnauthorized:          civicflow.EUNAUTHORIZED,
	http.StatusForbidden:             civicflow.EFORBIDDEN,
	http.StatusServiceUnavailable:    civicflow.EUNAVAILABLE,
	http.StatusTooManyRequests:       civicflow.ETOOMANY,
}

// fromTemporal turns an error from a workflow (an update validator or
// handler) back into the domain error it carries.
func fromTemporal(err error) error {
	return temporalerr.Domain(err, func(code string) bool { _, ok := statusOf[code]; return ok })
}

// handleError is Echo's HTTPErrorHandler: every error answer goes through
// it. Internal errors are logged with the request and shown as a plain
// message.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := http.StatusInternalServerError, wire.ErrorAnswer{}
	var he *echo.HTTPError
	var de *civicflow.Error
	switch {
	case errors.As(err, &de):
		status = statusOf[de.Code]
		body = wire.ErrorOf(de)
	case errors.As(err, &he):
		status = he.Code
		msg, ok := he.Message.(string)
		if !ok {
			msg = http.StatusText(he.Code)
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			msg = "the request body is too large"
		}
		code, ok := codeOfStatus[he.Code]
		if !ok {
			code = civicflow.EINTERNAL
		}
		body.Error = wire.ErrorDetail{Code: code, Message: msg}
	default:
		body.Error = wire.ErrorDetail{Code: civicflow.EINTERNAL, Message: civicflow.ErrorMessage(err)}
	}
	if status == 0 || status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "status", status, "err", err)
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if err := c.JSON(status, body); err != nil {
		s.log.Error("write error response", "err", err)
	}
}
