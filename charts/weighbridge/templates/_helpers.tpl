{{/* Chart name. */}}
{{- define "weighbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "weighbridge.fullname" -}}
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

{{/* Labels on every resource. */}}
{{- define "weighbridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "weighbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weighbridge
{{- end }}

{{/* Labels that select the plugin-server pods. */}}
{{- define "weighbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weighbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: plugin-server
{{- end }}

{{/* The ServiceAccount's name. */}}
{{- define "weighbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weighbridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false: name the existing ServiceAccount" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: digest wins over tag; the tag defaults to the appVersion. */}}
{{- define "weighbridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The gRPC address the connector is given: --server=<this>. */}}
{{- define "weighbridge.grpcAddress" -}}
{{- printf "%s.%s.svc:%v" (include "weighbridge.fullname" .) .Release.Namespace .Values.service.grpcPort }}
{{- end }}

{{/* Where Argo's controller downloads the connector (plugin-server's HTTP port); append linux-amd64 or linux-arm64. */}}
{{- define "weighbridge.connectorBaseUrl" -}}
{{- printf "http://%s.%s.svc:%v/connector/" (include "weighbridge.fullname" .) .Release.Namespace .Values.service.httpPort }}
{{- end }}

{{/* Label matchers of the alerts: the ServiceMonitor's job label is the Service's name. */}}
{{- define "weighbridge.alertSelector" -}}
{{- printf "job=\"%s\",namespace=\"%s\"" (include "weighbridge.fullname" .) .Release.Namespace }}
{{- end }}


{{/* Name of the cluster-scoped objects (ClusterRole, ClusterRoleBinding): the full name and the release namespace,
so that releases of the same name in two namespaces do not claim the same objects. */}}
{{- define "weighbridge.clusterName" -}}
{{- printf "%s-%s" (include "weighbridge.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* auth.mode in lower case: the chart reads it case-insensitively, as plugin-server reads --auth-mode. */}}
{{- define "weighbridge.authMode" -}}
{{- lower .Values.auth.mode }}
{{- end }}

{{/* "true" when the canary analyzer is configured (server.prometheusUrl): only then does plugin-server watch and
act on Rollouts, write Events and elect a leader. */}}
{{- define "weighbridge.analyzer" -}}
{{- if .Values.server.prometheusUrl }}true{{ end }}
{{- end }}

{{/* The command that prints the connector's sha256 for linux-amd64 as Argo's downloader accepts it: exactly the 64
lowercase hex digits (the .sha256 file is "<hex>  <file name>", as sha256sum prints it; cut keeps the hex). */}}
{{- define "weighbridge.sha256Command" -}}
{{- printf "kubectl -n %s exec deploy/%s -- cat /opt/weighbridge/connector/weighbridge-connector-linux-amd64.sha256 | cut -d' ' -f1" .Release.Namespace (include "weighbridge.fullname" .) }}
{{- end }}

{{/* NetworkPolicy peers of Argo Rollouts' controller pods: one per networkPolicy.argoRollouts.podSelectors entry,
each within the controller's namespaces. */}}
{{- define "weighbridge.argoPeers" -}}
{{- range .Values.networkPolicy.argoRollouts.podSelectors }}
- namespaceSelector:
    {{- toYaml $.Values.networkPolicy.argoRollouts.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end }}
