package credentials

import (
	"fmt"
	"net/url"
	"strings"
)

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

// EndpointPolicy says where the operator may send credentials. Without it, whoever may create an
// ImageRepository could point the operator, and the Secret it reads, at any host.
type EndpointPolicy struct {
	// AllowInsecure permits plain http:// endpoints.
	AllowInsecure bool
	// AllowedHosts, when not empty, lists the hosts endpoints may name: an entry starting with
	// "." matches every host under that domain (".myhuaweicloud.com"), any other entry one host.
	AllowedHosts []string
}

// allowsHost reports whether host is one the policy lets credentials go to.
func (p EndpointPolicy) allowsHost(host string) bool {
	if len(p.AllowedHosts) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, allowed := range p.AllowedHosts {
		allowed = strings.ToLower(allowed)
		if host == allowed || (strings.HasPrefix(allowed, ".") && strings.HasSuffix(host, allowed)) {
			return true
		}
	}
	return false
}

// Endpoint returns the SWR base URL of an object's spec.endpoint when set, otherwise the one
// derived from its spec.region. A refusal is an *Error of kind EndpointRefused.
func (p EndpointPolicy) Endpoint(endpoint, region string) (string, error) {
	switch {
	case endpoint != "":
		return p.check("spec.endpoint", endpoint)
	case region != "":
		return p.check("the endpoint of spec.region", regionEndpoint("swr-api", region))
	default:
		return "", endpointError("neither spec.endpoint nor spec.region is set")
	}
}

// check vets an endpoint that credentials will be sent to, named field in messages. Plain http
// is refused unless the policy allows it, because credentials travel in request headers; so is a
// host outside the policy's allowed hosts.
func (p EndpointPolicy) check(field, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", endpointError(field + " is not an absolute URL")
	}
	if u.User != nil {
		// Never echo the URL: its user information may be a password.
		return "", endpointError(field + " must not contain user information; put credentials in the Secret")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !p.AllowInsecure {
			return "", endpointError(fmt.Sprintf("%s: plain http endpoint %s refused: credentials would travel unencrypted; use https:// or run the manager with --allow-insecure-endpoints", field, u.String()))
		}
	default:
		return "", endpointError(fmt.Sprintf("%s scheme %q is not supported; use https://", field, u.Scheme))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", endpointError(field + " must not have a query or a fragment")
	}
	if !p.allowsHost(u.Hostname()) {
		return "", endpointError(fmt.Sprintf("%s host %s is not allowed by the manager's --allowed-endpoint-hosts (%s)",
			field, u.Hostname(), strings.Join(p.AllowedHosts, ", ")))
	}
	return strings.TrimRight(u.String(), "/"), nil
}
