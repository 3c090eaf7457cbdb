{{/* Name of the release's objects: <release>-intake, or the release name when it already says intake. */}}
{{- define "intake.fullname" -}}
{{- if contains "intake" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-intake" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "intake.labels" -}}
app.kubernetes.io/name: intake
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "api"). */}}
{{- define "intake.selectorLabels" -}}
app.kubernetes.io/name: intake
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image of a component: (dict "ctx" $ "tag" <component's imageTag or "">). */}}
{{- define "intake.image" -}}
{{- $v := .ctx.Values -}}
{{- printf "%s:%s" $v.image.repository (.tag | default $v.image.tag | default .ctx.Chart.AppVersion) -}}
{{- end -}}

{{/* TLS towards Temporal: asked for, or implied by an API key or client certificates. */}}
{{- define "intake.temporalTls" -}}
{{- if or .Values.temporal.tls.enabled (ne .Values.temporal.auth "none") -}}true{{- end -}}
{{- end -}}

{{- define "intake.tlsMountPath" -}}/etc/intake/temporal-tls{{- end -}}

{{/*
Environment shared by API, worker and hook Jobs: Temporal connection, task queue, shutdown
grace, values' env, then the component's secret keys. Call with (dict "ctx" $ "secretEnv" list
"env" map).
*/}}
{{- define "intake.env" -}}
{{- $v := .ctx.Values -}}
- name: NODE_ENV
  value: production
- name: TEMPORAL_ADDRESS
  value: {{ $v.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ $v.temporal.namespace | quote }}
- name: INTAKE_TASK_QUEUE
  value: {{ $v.temporal.taskQueue | quote }}
- name: INTAKE_SHUTDOWN_GRACE_S
  value: {{ $v.shutdownGraceSeconds | quote }}
{{- if include "intake.temporalTls" .ctx }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- with $v.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if eq $v.temporal.auth "mtls" }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ include "intake.tlsMountPath" .ctx }}/tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ include "intake.tlsMountPath" .ctx }}/tls.key
{{- end }}
{{- if and $v.temporal.tls.existingSecret $v.temporal.tls.serverCA }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ include "intake.tlsMountPath" .ctx }}/ca.crt
{{- end }}
{{- if eq $v.temporal.auth "apiKey" }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.existingSecret }}
      key: {{ $v.temporal.apiKeySecretKey }}
{{- end }}
{{- range $name, $value := merge (dict) .env $v.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range .secretEnv }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.existingSecret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end -}}

{{/* Volumes every pod has: a writable /tmp (the root filesystem is read-only) and the TLS secret. */}}
{{- define "intake.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- with .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "intake.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: {{ include "intake.tlsMountPath" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every pod of the chart. */}}
{{- define "intake.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Fails rendering when the values contradict each other. */}}
{{- define "intake.checks" -}}
{{- $grace := int .Values.shutdownGraceSeconds -}}
{{- if le (int .Values.worker.terminationGracePeriodSeconds) $grace -}}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must exceed shutdownGraceSeconds (%d): Kubernetes would SIGKILL workers while running activities still finish" (int .Values.worker.terminationGracePeriodSeconds) $grace) -}}
{{- end -}}
{{- if le (int .Values.api.terminationGracePeriodSeconds) (add $grace .Values.api.preStopSleepSeconds) -}}
{{- fail (printf "api.terminationGracePeriodSeconds (%d) must exceed api.preStopSleepSeconds + shutdownGraceSeconds (%d)" (int .Values.api.terminationGracePeriodSeconds) (add $grace .Values.api.preStopSleepSeconds)) -}}
{{- end -}}
{{- if and (eq .Values.temporal.auth "mtls") (not .Values.temporal.tls.existingSecret) -}}
{{- fail "temporal.auth=mtls needs temporal.tls.existingSecret (a kubernetes.io/tls Secret with the client certificate)" -}}
{{- end -}}
{{- if and .Values.worker.keda.enabled (gt (int .Values.worker.keda.minReplicas) (int .Values.worker.keda.maxReplicas)) -}}
{{- fail "worker.keda.minReplicas must not exceed worker.keda.maxReplicas" -}}
{{- end -}}
{{- if and .Values.api.autoscaling.enabled (gt (int .Values.api.autoscaling.minReplicas) (int .Values.api.autoscaling.maxReplicas)) -}}
{{- fail "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}
