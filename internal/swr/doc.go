// Package swr is a small client for the Huawei Cloud SoftWare Repository for Container (SWR) API.
//
// It is the only place in the operator that speaks HTTP to SWR. It knows nothing about
// Kubernetes: it takes plain values (endpoint, organization, repository, credentials) and returns
// plain values (sync policies, sync jobs) or an *Error whose Class tells the caller whether to
// retry.
//
// Requests are authenticated with a static IAM token (TokenAuth), with IAM password credentials
// exchanged for tokens that a process-wide TokenCache shares and refreshes (PasswordAuth), or with
// an access key pair that signs each request (NewAKSKAuth). The swrtest subpackage serves the SWR
// API, IAM's token endpoint and an independent signature check for tests.
//
// Credentials never appear in errors: they travel only in request headers, which no error
// message includes, and the Authenticator implementations redact themselves when printed.
package swr
