// sshprobe opens SSH connections the way pulumi-command 1.2.1's remote.Command does
// (provider/pkg/provider/remote/{connection,commandOutputs}.go, golang.org/x/crypto/ssh
// v0.48.0, the provider's own version): ssh.Dial (direct) or ssh.Dial to the proxy, a
// direct-tcpip channel from it and ssh.NewClientConn over that (jump host); the dial is
// retried, then client.NewSession() and session.Run(cmd) are not. Like the provider it never
// closes a client it dialed (-keep, the default): every command's connection stays open until
// the process exits.
//
// -n connections run in parallel per round, -rounds rounds one after the other, -pause between
// them. One JSON line per connection on stdout: {"round","i","stage","err","dialFailures"}
// with stage "ok", "dial" (all retries failed), "session" (NewSession) or "run" (Run); then a
// summary line {"summary":{stage:count}}.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

type result struct {
	Round        int      `json:"round"`
	I            int      `json:"i"`
	Stage        string   `json:"stage"`
	Err          string   `json:"err,omitempty"`
	DialFailures []string `json:"dialFailures,omitempty"`
	Ms           int64    `json:"ms"`
}

func main() {
	target := flag.String("target", "", "host:port of the machine the command runs on")
	proxy := flag.String("proxy", "", "host:port of the jump host (empty: connect directly)")
	user := flag.String("user", "root", "login user (target and proxy)")
	keyFile := flag.String("key", "", "private key file")
	n := flag.Int("n", 7, "connections in parallel per round")
	rounds := flag.Int("rounds", 1, "rounds")
	pause := flag.Duration("pause", 0, "pause between rounds")
	cmd := flag.String("cmd", "true", "command each session runs")
	tries := flag.Int("tries", 10, "dial attempts (the provider's dialErrorLimit)")
	keep := flag.Bool("keep", true, "never close a dialed client (what the provider does)")
	stdinBytes := flag.Int("stdin-bytes", 0, "bytes the session gets on stdin (the resource's `stdin`: the provider sends it to create, update and delete alike)")
	flag.Parse()
	stdin := ""
	if *stdinBytes > 0 {
		line := strings.Repeat("x", 63) + "\n"
		stdin = strings.Repeat(line, *stdinBytes/len(line)+1)[:*stdinBytes]
	}

	key, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	config := &ssh.ClientConfig{
		User:            *user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // test machines only
		Timeout:         15 * time.Second,            // the provider's perDialTimeout default
	}

	var mu sync.Mutex
	var kept []*ssh.Client
	counts := map[string]int{}
	enc := json.NewEncoder(os.Stdout)
	for r := 0; r < *rounds; r++ {
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				start := time.Now()
				res := result{Round: r, I: i}
				client, proxyClient, err := dial(*target, *proxy, config, *tries, &res)
				if err == nil {
					mu.Lock()
					kept = append(kept, client)
					if proxyClient != nil {
						kept = append(kept, proxyClient)
					}
					mu.Unlock()
					res.Stage, err = runOnce(client, *cmd, stdin)
					if !*keep {
						client.Close()
						if proxyClient != nil {
							proxyClient.Close()
						}
					}
				} else {
					res.Stage = "dial"
				}
				if err != nil {
					res.Err = err.Error()
				}
				res.Ms = time.Since(start).Milliseconds()
				mu.Lock()
				counts[res.Stage]++
				_ = enc.Encode(res)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		time.Sleep(*pause)
	}
	_ = enc.Encode(map[string]any{"summary": counts, "open": len(kept)})
}

// runOnce is commandOutputs.go's run after the dial: NewSession, stdin when non-empty, Run.
func runOnce(client *ssh.Client, cmd, stdin string) (string, error) {
	session, err := client.NewSession()
	if err != nil {
		return "session", err
	}
	defer session.Close()
	if len(stdin) > 0 {
		session.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	session.Stdout = &out
	session.Stderr = &out
	if err := session.Run(cmd); err != nil {
		return "run", fmt.Errorf("%w: running %q:\n%s", err, cmd, out.String())
	}
	return "ok", nil
}

// dial is connection.go's Dial: each step retried up to `tries` times.
func dial(target, proxy string, config *ssh.ClientConfig, tries int, res *result) (*ssh.Client, *ssh.Client, error) {
	retry := func(f func() error) error {
		var err error
		for t := 0; t < tries; t++ {
			if err = f(); err == nil {
				return nil
			}
			res.DialFailures = append(res.DialFailures, err.Error())
			time.Sleep(time.Duration(t+1) * 100 * time.Millisecond)
		}
		return fmt.Errorf("after %d failed attempts: %w", tries, err)
	}
	if proxy == "" {
		var c *ssh.Client
		err := retry(func() (e error) { c, e = ssh.Dial("tcp", target, config); return })
		return c, nil, err
	}
	var pc *ssh.Client
	if err := retry(func() (e error) { pc, e = ssh.Dial("tcp", proxy, config); return }); err != nil {
		return nil, nil, fmt.Errorf("proxy: %w", err)
	}
	var conn net.Conn
	if err := retry(func() (e error) { conn, e = pc.Dial("tcp", target); return }); err != nil {
		return nil, pc, fmt.Errorf("proxy: %w", err)
	}
	var c ssh.Conn
	var chans <-chan ssh.NewChannel
	var reqs <-chan *ssh.Request
	if err := retry(func() (e error) { c, chans, reqs, e = ssh.NewClientConn(conn, target, config); return }); err != nil {
		return nil, pc, fmt.Errorf("proxy: %w", err)
	}
	return ssh.NewClient(c, chans, reqs), pc, nil
}
