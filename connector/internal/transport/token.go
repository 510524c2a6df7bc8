package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// tokenMaxAge bounds how long a token read from disk is reused without looking at the file again, in case a
// rewrite keeps the same inode, size and modification time.
const tokenMaxAge = time.Minute

// TokenError says that the connector could not produce its bearer token; the call was not sent.
type TokenError struct {
	// Path is the token file.
	Path string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *TokenError) Error() string { return fmt.Sprintf("token file %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// FileToken serves a bearer token from a file and re-reads it when the file changes. Kubernetes rotates
// projected service-account tokens by swapping a symlink, so the file is stat'ed (following symlinks) on
// every call and read again when it is a different file, or changed, or the copy is older than tokenMaxAge.
type FileToken struct {
	path string
	now  func() time.Time

	mu     sync.Mutex
	token  string
	info   os.FileInfo
	readAt time.Time
}

// NewFileToken returns a FileToken for path; the file is first read by the first call.
func NewFileToken(path string) *FileToken {
	return &FileToken{path: path, now: time.Now}
}

// Token returns the current token, or a *TokenError.
func (f *FileToken) Token() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err != nil {
		return "", &TokenError{Path: f.path, Err: err}
	}
	if f.info != nil && os.SameFile(f.info, info) && f.info.ModTime().Equal(info.ModTime()) &&
		f.info.Size() == info.Size() && f.now().Sub(f.readAt) < tokenMaxAge {
		return f.token, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", &TokenError{Path: f.path, Err: err}
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", &TokenError{Path: f.path, Err: errors.New("the file is empty")}
	}
	f.token, f.info, f.readAt = token, info, f.now()
	return token, nil
}

// bearerInterceptor adds "authorization: Bearer <token>" to every call. It is an interceptor rather than
// grpc PerRPCCredentials so that an unreadable token file fails the call with a *TokenError the connector
// can explain, instead of a generic UNAUTHENTICATED that would blame plugin-server.
func bearerInterceptor(src *FileToken) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		token, err := src.Token()
		if err != nil {
			return err
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
