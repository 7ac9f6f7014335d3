{{/*
Names. Kubernetes names are DNS labels: 63 characters at most. Helm's own names follow
the same cut, so a long release name still renders valid objects.
*/}}
{{- define "kubelens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. When the release name already contains the chart name it is not
repeated ("kubelens" rather than "kubelens-kubelens").
*/}}
{{- define "kubelens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Per-component names: "<fullname>-<component>". The base is cut to leave room for the
whole suffix, so the name stays within 63 characters and the suffix, which tells the
components apart, always survives.
Usage: include "kubelens.componentName" (list . "operator")
*/}}
{{- define "kubelens.componentName" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $room := sub 62 (len $component) | int }}
{{- printf "%s-%s" (include "kubelens.fullname" $root | trunc $room | trimSuffix "-") $component }}
{{- end }}

{{- define "kubelens.operator.fullname" -}}
{{- include "kubelens.componentName" (list . "operator") }}
{{- end }}

{{- define "kubelens.agent.fullname" -}}
{{- include "kubelens.componentName" (list . "agent") }}
{{- end }}

{{- define "kubelens.webhook.fullname" -}}
{{- include "kubelens.componentName" (list . "webhook") }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "kubelens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
*/}}
{{- define "kubelens.labels" -}}
helm.sh/chart: {{ include "kubelens.chart" . }}
{{ include "kubelens.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ include "kubelens.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubelens
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: only those that never change over a release's life, because a
Deployment's and a DaemonSet's selector is immutable.
*/}}
{{- define "kubelens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubelens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Component labels. The operator finds the agent on a node by these labels plus
spec.nodeName, so app.kubernetes.io/component is part of the contract, not decoration.
Usage: include "kubelens.componentLabels" (list . "agent")
*/}}
{{- define "kubelens.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "kubelens.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "kubelens.componentSelectorLabels" -}}
{{- $root := index . 0 -}}
{{ include "kubelens.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
The label selector (as a string) that finds this release's agent pods.
*/}}
{{- define "kubelens.agent.selector" -}}
{{- $labels := include "kubelens.componentSelectorLabels" (list . "agent") | fromYaml }}
{{- $pairs := list }}
{{- range $key := keys $labels | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%s" $key (get $labels $key)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
ServiceAccount names: a user-given name wins; otherwise the component's full name when
the chart creates it, and "default" when it does not (what the pod would get anyway).
*/}}
{{- define "kubelens.serviceAccountName" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $sa := (get $root.Values $component).serviceAccount }}
{{- if $sa.create }}
{{- default (include "kubelens.componentName" (list $root $component)) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/*
Image: tag defaults to the chart's appVersion; a digest, when given, pins the exact image.
*/}}
{{- define "kubelens.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "kubelens.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "kubelens.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Secrets. Each one is either the user's existing Secret or one the chart creates.
*/}}
{{- define "kubelens.llm.secretName" -}}
{{- if .Values.llm.existingSecret }}
{{- .Values.llm.existingSecret }}
{{- else if .Values.llm.apiKeys }}
{{- include "kubelens.componentName" (list . "llm") }}
{{- end }}
{{- end }}

{{- define "kubelens.webhook.secretName" -}}
{{- default (include "kubelens.webhook.fullname" .) .Values.webhook.existingSecret }}
{{- end }}

{{- define "kubelens.agentToken.secretName" -}}
{{- default (include "kubelens.componentName" (list . "agent-token")) .Values.agent.sharedToken.existingSecret }}
{{- end }}

{{/*
A random token that survives upgrades: reuse the value already in the cluster's Secret
(lookup), so Alertmanager and the agents keep working after `helm upgrade`. `helm
template` and `--dry-run` cannot look up, so they render a fresh one.
Usage: include "kubelens.stableToken" (list . "secret-name" "key")
*/}}
{{- define "kubelens.stableToken" -}}
{{- $root := index . 0 }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (index . 1) }}
{{- if and $existing $existing.data (hasKey $existing.data (index . 2)) }}
{{- index $existing.data (index . 2) }}
{{- else }}
{{- randAlphaNum 40 | b64enc }}
{{- end }}
{{- end }}

{{/*
Shared pieces of every pod.
*/}}
{{- define "kubelens.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "kubelens.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/*
Environment every container gets. HOME points at the writable /tmp emptyDir because the
root filesystem is read-only and libraries (litellm, tiktoken) cache under $HOME.
*/}}
{{- define "kubelens.commonEnv" -}}
- name: KUBELENS_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: KUBELENS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: HOME
  value: /tmp
{{- end }}

{{- define "kubelens.agentTokenEnv" -}}
{{- if .Values.agent.sharedToken.enabled }}
- name: KUBELENS_AGENT_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "kubelens.agentToken.secretName" . }}
      key: {{ .Values.agent.sharedToken.secretKey | quote }}
{{- end }}
{{- end }}

{{- define "kubelens.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "kubelens.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "kubelens.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
