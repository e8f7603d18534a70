// Command gohost drives a plugin through HashiCorp go-plugin's real client, the way the Mattermost
// server does, and reports what it saw as JSON lines on stdout.
//
// Usage: gohost SCRIPT.json
//
// The script names the plugin command and a list of steps. Messages travel as base64 protobuf bytes
// in both directions (a pass-through codec), so no Go stubs are compiled for the Mattermost protos;
// the Python test encodes the requests and decodes the answers with mmplugin's generated classes.
// go-plugin's own log (hclog, JSON format, trace level) goes to stderr.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// The values the Mattermost server hands to go-plugin.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "MATTERMOST_PLUGIN",
	MagicCookieValue: "Securely message teams, anywhere.",
}

// The Mattermost server calls every unary hook with this deadline; streams get it here too so
// that a stuck plugin cannot hang the test.
const callTimeout = 30 * time.Second

type script struct {
	Command []string `json:"command"`
	Dir     string   `json:"dir"`
	Steps   []step   `json:"steps"`
}

type step struct {
	Op       string   `json:"op"` // ping, unary, stream or kill
	Method   string   `json:"method"`
	Request  string   `json:"request"`  // unary: base64 message
	Requests []string `json:"requests"` // stream: base64 messages, sent in order, then half-close
}

// rawCodec passes protobuf bytes through untouched. It is forced per call, so go-plugin's own
// health, broker and controller calls keep the real proto codec.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec marshals []byte, got %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec unmarshals into *[]byte, got %T", v)
	}
	*p = append([]byte{}, data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// hooksPlugin is the client half of Mattermost's "hooks" plugin: it hands out the connection.
type hooksPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (hooksPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("gohost is a client only")
}

func (hooksPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return conn, nil
}

var out = json.NewEncoder(os.Stdout)

func report(record map[string]interface{}) {
	if err := out.Encode(record); err != nil {
		fmt.Fprintln(os.Stderr, "gohost: cannot write report:", err)
		os.Exit(2)
	}
}

func statusFields(record map[string]interface{}, err error) map[string]interface{} {
	s := status.Convert(err)
	record["code"] = int(s.Code())
	record["code_name"] = s.Code().String()
	record["message"] = s.Message()
	return record
}

func unary(conn *grpc.ClientConn, s step) map[string]interface{} {
	request, err := base64.StdEncoding.DecodeString(s.Request)
	if err != nil {
		return map[string]interface{}{"op": s.Op, "method": s.Method, "error": err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var response []byte
	err = conn.Invoke(ctx, s.Method, request, &response, grpc.ForceCodec(rawCodec{}))
	record := statusFields(map[string]interface{}{"op": s.Op, "method": s.Method}, err)
	record["response"] = base64.StdEncoding.EncodeToString(response)
	return record
}

// stream sends every request from its own goroutine while this one reads, so an early or
// echoing response cannot deadlock against flow control.
func stream(conn *grpc.ClientConn, s step) map[string]interface{} {
	record := map[string]interface{}{"op": s.Op, "method": s.Method}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	desc := &grpc.StreamDesc{StreamName: s.Method, ClientStreams: true, ServerStreams: true}
	cs, err := conn.NewStream(ctx, desc, s.Method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		record["open_error"] = err.Error()
		return statusFields(record, err)
	}
	sendDone := make(chan error, 1)
	go func() {
		for _, encoded := range s.Requests {
			message, err := base64.StdEncoding.DecodeString(encoded)
			if err == nil {
				err = cs.SendMsg(message)
			}
			if err != nil {
				sendDone <- err
				return
			}
		}
		sendDone <- cs.CloseSend()
	}()
	responses := []string{}
	for {
		var message []byte
		err = cs.RecvMsg(&message)
		if err != nil {
			break
		}
		responses = append(responses, base64.StdEncoding.EncodeToString(message))
	}
	if err == io.EOF {
		err = nil
	}
	if sendErr := <-sendDone; sendErr != nil && sendErr != io.EOF {
		record["send_error"] = sendErr.Error()
	}
	record["responses"] = responses
	return statusFields(record, err)
}

func run(sc script, logger hclog.Logger) int {
	cmd := exec.Command(sc.Command[0], sc.Command[1:]...)
	cmd.Dir = sc.Dir
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          map[string]plugin.Plugin{"hooks": hooksPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		StartTimeout:     10 * time.Second,
	})
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		report(map[string]interface{}{"op": "start", "error": err.Error()})
		return 1
	}
	raw, err := rpcClient.Dispense("hooks")
	if err != nil {
		report(map[string]interface{}{"op": "start", "error": err.Error()})
		return 1
	}
	conn := raw.(*grpc.ClientConn)
	report(map[string]interface{}{
		"op":       "start",
		"protocol": string(client.Protocol()),
		"version":  client.NegotiatedVersion(),
		"pid":      cmd.Process.Pid,
	})

	for _, s := range sc.Steps {
		switch s.Op {
		case "ping":
			record := map[string]interface{}{"op": s.Op, "ok": true}
			if err := rpcClient.Ping(); err != nil {
				record["ok"] = false
				record["error"] = err.Error()
			}
			report(record)
		case "unary":
			report(unary(conn, s))
		case "stream":
			report(stream(conn, s))
		case "kill":
			started := time.Now()
			client.Kill()
			report(map[string]interface{}{
				"op":         s.Op,
				"exited":     client.Exited(),
				"elapsed_ms": time.Since(started).Milliseconds(),
			})
		default:
			report(map[string]interface{}{"op": s.Op, "error": "unknown op"})
			return 1
		}
	}
	return 0
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gohost SCRIPT.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(2)
	}
	var sc script
	if err := json.Unmarshal(data, &sc); err != nil || len(sc.Command) == 0 {
		fmt.Fprintln(os.Stderr, "gohost: bad script (need a non-empty command):", err)
		os.Exit(2)
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	os.Exit(run(sc, logger))
}
