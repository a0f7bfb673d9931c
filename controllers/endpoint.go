package controllers

import (
	"fmt"
	"net/url"
	"strings"

	swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"
)

// endpointError is a spec problem with the SWR endpoint that a person must fix.
type endpointError struct{ msg string }

func (e *endpointError) Error() string { return e.msg }

// regionDomains lists regions whose SWR endpoint is not under myhuaweicloud.com.
var regionDomains = map[string]string{
	"eu-west-101": "myhuaweicloud.eu",
}

// resolveEndpoint returns the SWR base URL for spec: spec.endpoint when set, otherwise the one
// derived from spec.region. Plain http is refused unless allowInsecure, because the credentials
// travel in request headers.
func resolveEndpoint(spec *swrv1.ImageRepositorySpec, allowInsecure bool) (string, error) {
	if spec.Endpoint == "" {
		if spec.Region == "" {
			return "", &endpointError{msg: "neither spec.endpoint nor spec.region is set"}
		}
		domain := regionDomains[spec.Region]
		if domain == "" {
			domain = "myhuaweicloud.com"
		}
		return fmt.Sprintf("https://swr-api.%s.%s", spec.Region, domain), nil
	}
	u, err := url.Parse(spec.Endpoint)
	if err != nil || u.Host == "" {
		return "", &endpointError{msg: "spec.endpoint is not an absolute URL"}
	}
	if u.User != nil {
		// Never echo the URL: its user information may be a password.
		return "", &endpointError{msg: "spec.endpoint must not contain user information; put credentials in the Secret"}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowInsecure {
			return "", &endpointError{msg: fmt.Sprintf("plain http endpoint %s refused: credentials would travel unencrypted; use https:// or run the manager with --allow-insecure-endpoints", u.String())}
		}
	default:
		return "", &endpointError{msg: fmt.Sprintf("spec.endpoint scheme %q is not supported; use https://", u.Scheme)}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", &endpointError{msg: "spec.endpoint must not have a query or a fragment"}
	}
	return strings.TrimRight(u.String(), "/"), nil
}
