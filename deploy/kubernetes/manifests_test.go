// Package kubernetes holds sockbench's Kubernetes manifests; its test
// decodes every one of them strictly into the k8s.io/api types, so that a
// misspelt or misplaced field fails here rather than being dropped by the
// API server, and checks that the pieces refer to each other correctly.
package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/sockbench/sockbench/deploy/internal/sockbenchbin"
)

// kinds are the types the manifests may hold, by apiVersion and kind.
var kinds = map[string]func() any{
	"v1/Namespace":                       func() any { return &corev1.Namespace{} },
	"v1/Service":                         func() any { return &corev1.Service{} },
	"v1/ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1/PersistentVolumeClaim":           func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Pod":                             func() any { return &corev1.Pod{} },
	"apps/v1/StatefulSet":                func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                       func() any { return &batchv1.Job{} },
	"networking.k8s.io/v1/NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
}

// decodeAll reads every document of every manifest, strictly: unknown
// fields and duplicate keys are errors.
func decodeAll(t *testing.T) map[string]any {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	objs := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			where := fmt.Sprintf("%s, document %d", f, i+1)
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			js, err := yaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(js, &head); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			key := head.APIVersion + "/" + head.Kind
			newObj, ok := kinds[key]
			if !ok {
				t.Errorf("%s: %s is not a kind this test knows; add it to kinds", where, key)
				continue
			}
			obj := newObj()
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(obj); err != nil {
				t.Errorf("%s (%s %s): %v", where, head.Kind, head.Metadata.Name, err)
				continue
			}
			name := head.Kind + "/" + head.Metadata.Name
			if _, dup := objs[name]; dup {
				t.Errorf("%s: a second %s", where, name)
			}
			objs[name] = obj
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := decodeAll(t)
	for name, obj := range objs {
		if ns := namespaceOf(obj); ns != "sockbench" && name != "Namespace/sockbench" {
			t.Errorf("%s is in namespace %q, want sockbench", name, ns)
		}
	}
}

func namespaceOf(obj any) string {
	js, _ := json.Marshal(obj)
	var m struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	json.Unmarshal(js, &m)
	return m.Metadata.Namespace
}

func get[T any](t *testing.T, objs map[string]any, name string) T {
	t.Helper()
	o, ok := objs[name].(T)
	if !ok {
		t.Fatalf("no %s among the manifests", name)
	}
	return o
}

// The agents are a StatefulSet behind a headless Service that selects
// them, their token comes from the Secret, and the coordinator's Job finds
// them by that Service's name and reaches the server by the target's.
func TestThePiecesFitTogether(t *testing.T) {
	objs := decodeAll(t)
	svc := get[*corev1.Service](t, objs, "Service/sockbench-agents")
	sts := get[*appsv1.StatefulSet](t, objs, "StatefulSet/sockbench-agent")
	job := get[*batchv1.Job](t, objs, "Job/sockbench-run")
	target := get[*corev1.Service](t, objs, "Service/sockbench-target")
	runCM := get[*corev1.ConfigMap](t, objs, "ConfigMap/sockbench-run")
	agentCM := get[*corev1.ConfigMap](t, objs, "ConfigMap/sockbench-agent")

	if svc.Spec.ClusterIP != corev1.ClusterIPNone || target.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the agents' and the target's Services must be headless (clusterIP: None)")
	}
	if sts.Spec.ServiceName != svc.Name {
		t.Errorf("the StatefulSet's serviceName is %q, the Service %q", sts.Spec.ServiceName, svc.Name)
	}
	if !selects(svc.Spec.Selector, sts.Spec.Template.Labels) || !selects(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("the agents' Service or the StatefulSet does not select the agent pods")
	}
	if !selects(target.Spec.Selector, job.Spec.Template.Labels) {
		t.Errorf("the target Service does not select the coordinator's pod")
	}
	agentPort := sts.Spec.Template.Spec.Containers[0].Ports[0]
	if svc.Spec.Ports[0].Port != agentPort.ContainerPort {
		t.Errorf("the Service's port %d is not the agent's %d", svc.Spec.Ports[0].Port, agentPort.ContainerPort)
	}
	for what, spec := range map[string]corev1.PodSpec{"agent": sts.Spec.Template.Spec, "coordinator": job.Spec.Template.Spec} {
		var secret string
		for _, v := range spec.Volumes {
			if v.Secret != nil {
				secret = v.Secret.SecretName
			}
		}
		if secret != "sockbench-token" {
			t.Errorf("the %s's token comes from Secret %q, want sockbench-token (README.md creates it)", what, secret)
		}
	}
	run := runCM.Data["run.yaml"]
	addr := fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port)
	if !strings.Contains(run, addr) {
		t.Errorf("run.yaml does not find the agents by %s:\n%s", addr, run)
	}
	targetAddr := fmt.Sprintf("%s.%s.svc.cluster.local:%d", target.Name, target.Namespace, target.Spec.Ports[0].Port)
	if !strings.Contains(run, "target: "+targetAddr) || agentCM.Data["allow"] != targetAddr {
		t.Errorf("the coordinator's target and the agents' --allow must both be %s: run.yaml has\n%s\nand allow is %q", targetAddr, run, agentCM.Data["allow"])
	}
	args := strings.Join(sts.Spec.Template.Spec.Containers[0].Args, " ")
	for _, flag := range []string{"--listen=", "--token-file=", "--allow="} {
		if !strings.Contains(args, flag) {
			t.Errorf("the agent's args %q lack %s", args, flag)
		}
	}
}

// The containers call sockbench with commands and flags it has.
func TestTheContainersUseFlagsSockbenchHas(t *testing.T) {
	objs := decodeAll(t)
	sts := get[*appsv1.StatefulSet](t, objs, "StatefulSet/sockbench-agent")
	job := get[*batchv1.Job](t, objs, "Job/sockbench-run")
	for _, c := range []corev1.Container{sts.Spec.Template.Spec.Containers[0], job.Spec.Template.Spec.Containers[0]} {
		cmd := c.Args[0]
		if bad := sockbenchbin.Unknown(c.Args[1:], sockbenchbin.Flags(t, cmd)); len(bad) > 0 {
			t.Errorf("container %s passes flags `sockbench %s` does not have: %v", c.Name, cmd, bad)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// The run's configuration is one `sockbench run` accepts (its token file
// stands in for the Secret's).
func TestTheRunConfigurationIsValid(t *testing.T) {
	objs := decodeAll(t)
	run := get[*corev1.ConfigMap](t, objs, "ConfigMap/sockbench-run").Data["run.yaml"]
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secretPath = "/etc/sockbench/token/token"
	if !strings.Contains(run, secretPath) {
		t.Fatalf("run.yaml does not read the token from the Secret's mount, %s", secretPath)
	}
	cfg := filepath.Join(dir, "run.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(run, secretPath, token)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sockbenchbin.Path(t), "run", "--dry-run", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("sockbench run --dry-run: %v\n%s", err, out)
	}
}
