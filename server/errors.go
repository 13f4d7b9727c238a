package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles"
)

// toStatus maps an error from the store (or from the server's own checks) to
// the gRPC status the client sees. It is the one place where that mapping
// lives.
//
// Errors that already carry a gRPC status pass through. The messages of the
// store's sentinel errors are shown to clients (package articles promises
// they hold no internal detail); any other error becomes INTERNAL
// "internal error", and its text reaches only the server log, through the
// request-logging interceptor.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
			return err
		}
		// A wrapped status: keep its code and details, not the wrapping
		// text, which may carry internal detail.
		return se.GRPCStatus().Err()
	}
	var ce *articles.CompactedError
	switch {
	case errors.As(err, &ce):
		st := status.New(codes.OutOfRange, ce.Error())
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{
			Reason:   "REVISION_COMPACTED",
			Domain:   "articles.v1",
			Metadata: map[string]string{"oldest_revision": strconv.FormatInt(ce.Oldest, 10)},
		}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, articles.ErrCompacted):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, articles.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, articles.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, articles.ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, articles.ErrRequestIDReused):
		return badRequest(err.Error(), violation("request_id", "%s", err.Error()))
	case errors.Is(err, articles.ErrTooLarge):
		return badRequest(err.Error(), violation("article", "%s", err.Error()))
	case errors.Is(err, articles.ErrNoSpace):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, articles.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, context.Canceled.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	default:
		return &internalError{cause: err}
	}
}

// internalError is an unexpected failure. Clients see only INTERNAL
// "internal error"; Error, which the logging interceptor records, has the
// cause.
type internalError struct{ cause error }

func (e *internalError) Error() string { return "internal error: " + e.cause.Error() }

func (e *internalError) Unwrap() error { return e.cause }

// GRPCStatus is what gRPC sends to the client: no detail at all.
func (e *internalError) GRPCStatus() *status.Status {
	return status.New(codes.Internal, "internal error")
}

// violation is one field violation of a BadRequest: field is the path of
// the offending field in the request, e.g. "article.title".
func violation(field, format string, args ...any) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)}
}

// invalidArgument is INVALID_ARGUMENT with a google.rpc.BadRequest listing
// vs. The message is the first violation, so that clients that show only
// the message still say what is wrong.
func invalidArgument(vs ...*errdetails.BadRequest_FieldViolation) error {
	msg := "invalid argument"
	if len(vs) > 0 {
		msg = vs[0].GetField() + ": " + vs[0].GetDescription()
		if len(vs) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(vs)-1)
		}
	}
	return badRequest(msg, vs...)
}

// badRequest is INVALID_ARGUMENT with message msg and a BadRequest
// listing vs.
func badRequest(msg string, vs ...*errdetails.BadRequest_FieldViolation) error {
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: vs}); err == nil {
		st = d
	}
	return st.Err()
}

// violationsText is vs as one line, for an import failure's reason.
func violationsText(vs []*errdetails.BadRequest_FieldViolation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.GetField() + ": " + v.GetDescription()
	}
	return strings.Join(parts, "; ")
}

// tokenError is INVALID_ARGUMENT for a page token or cursor that failed
// to decode; its message is exactly the decoding error's.
func tokenError(field string, err error) error {
	return badRequest(err.Error(), violation(field, "%s", err.Error()))
}
