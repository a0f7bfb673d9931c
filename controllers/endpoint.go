package controllers

import (
	"fmt"
	"net/url"
	"strings"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// endpointError is a spec problem with an endpoint that a person must fix.
type endpointError struct{ msg string }

func (e *endpointError) Error() string { return e.msg }

// regionDomains lists regions whose endpoints are not under myhuaweicloud.com.
var regionDomains = map[string]string{
	"eu-west-101": "myhuaweicloud.eu",
}

// regionEndpoint returns the endpoint of service ("swr-api", "iam") in region.
func regionEndpoint(service, region string) string {
	domain := regionDomains[region]
	if domain == "" {
		domain = "myhuaweicloud.com"
	}
	return fmt.Sprintf("https://%s.%s.%s", service, region, domain)
}

// resolveEndpoint returns the SWR base URL for spec: spec.endpoint when set, otherwise the one
// derived from spec.region.
func resolveEndpoint(spec *swrv1.ImageRepositorySpec, allowInsecure bool) (string, error) {
	if spec.Endpoint != "" {
		return checkEndpointURL("spec.endpoint", spec.Endpoint, allowInsecure)
	}
	if spec.Region == "" {
		return "", &endpointError{msg: "neither spec.endpoint nor spec.region is set"}
	}
	return regionEndpoint("swr-api", spec.Region), nil
}

// checkEndpointURL vets an endpoint that credentials will be sent to, named field in messages.
// Plain http is refused unless allowInsecure, because credentials travel in request headers.
func checkEndpointURL(field, raw string, allowInsecure bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", &endpointError{msg: field + " is not an absolute URL"}
	}
	if u.User != nil {
		// Never echo the URL: its user information may be a password.
		return "", &endpointError{msg: field + " must not contain user information; put credentials in the Secret"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowInsecure {
			return "", &endpointError{msg: fmt.Sprintf("%s: plain http endpoint %s refused: credentials would travel unencrypted; use https:// or run the manager with --allow-insecure-endpoints", field, u.String())}
		}
	default:
		return "", &endpointError{msg: fmt.Sprintf("%s scheme %q is not supported; use https://", field, u.Scheme)}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", &endpointError{msg: field + " must not have a query or a fragment"}
	}
	return strings.TrimRight(u.String(), "/"), nil
}
