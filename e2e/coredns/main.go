// CoreDNS with only the plugins the e2e cluster's DNS needs: the kubernetes plugin answers
// for cluster.local, and nothing forwards beyond the cluster. The plugins and the server are
// CoreDNS's own packages, unchanged; only the list of compiled-in plugins is shorter than in
// the release binary, as CoreDNS's documentation describes for custom builds.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// In the order of CoreDNS's plugin.cfg, which is the order a query passes through them.
var directives = []string{
	"ready",
	"health",
	"errors",
	"log",
	"loadbalance",
	"cache",
	"kubernetes",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
