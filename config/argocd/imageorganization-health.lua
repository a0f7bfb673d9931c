-- Argo CD health check for swr.imagesync.io/v1alpha1 ImageOrganization.
--
-- It reads the kstatus conditions the operator sets (api/v1alpha1/conditions.go):
--   Reconciling=True                      -> Progressing: a failed discovery being retried
--                                            (Throttled, UpstreamUnavailable, MirrorFailed, ...)
--   no conditions yet                     -> Progressing: the first discovery has not finished
--   status.observedGeneration behind      -> Progressing: the operator has not listed the
--                                            organization for the new spec yet
--   Stalled=True                          -> Degraded: a person must fix the spec, the Secret or
--                                            SWR (AuthenticationFailed, AccessDenied, ...)
--   Ready=False, reason Suspended         -> Suspended: spec.suspend is true
--   Ready=True                            -> Healthy ("42 repositories"; the message also names
--                                            wanted names held by foreign ImageRepositories)
-- The generated ImageRepositories have health of their own (imagerepository-health.lua).
-- Argo CD runs health scripts without the string library, so the script uses only the base and
-- table libraries. Keep it identical to the copy in argocd-cm-patch.yaml (a test checks).
local hs = {}

local function findCondition(conditions, conditionType)
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- messageOf prefers a condition's message and falls back to its reason, so that Argo CD never
-- shows an empty message.
local function messageOf(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition ~= nil and condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

local conditions = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  conditions = obj.status.conditions
end
if #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the first discovery"
  return hs
end

local ready = findCondition(conditions, "Ready")
local reconciling = findCondition(conditions, "Reconciling")
local stalled = findCondition(conditions, "Stalled")

-- A transient failure keeps Reconciling=True (reason ProgressingWithRetry) and does not advance
-- observedGeneration while the operator retries with backoff, so it is checked first: Ready
-- says what failed.
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  if ready ~= nil and ready.status == "False" then
    hs.message = messageOf(ready, "Retrying")
  else
    hs.message = messageOf(reconciling, "Discovering SWR repositories")
  end
  return hs
end

-- Conditions written for an older generation describe the old spec: a Stalled condition there
-- may already be fixed by the change that is waiting to be discovered.
local generation = obj.metadata.generation
local observedGeneration = obj.status.observedGeneration
if generation ~= nil and (observedGeneration == nil or observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to discover the repositories of generation " .. generation
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = messageOf(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "False" and ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = messageOf(ready, "Suspended")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = messageOf(ready, "Ready")
  return hs
end

-- The operator never leaves Ready=False without Stalled, Reconciling or Suspended; if it ever
-- does, nothing is retrying, so report it rather than wait for progress that will not come.
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = messageOf(ready, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = messageOf(ready, "Waiting for the Ready condition")
return hs
