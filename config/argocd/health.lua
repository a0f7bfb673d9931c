-- Argo CD health check for the kinds of swr.imagesync.io/v1alpha1, dispatching on obj.kind.
--
-- ImageOrganization and ImageRepository: the kstatus conditions the operator sets
-- (api/v1alpha1/conditions.go), read in this order:
--   no conditions yet                     -> Progressing: the first discovery (ImageOrganization)
--                                            or poll (ImageRepository) has not finished
--   Reconciling=True                      -> Progressing: first poll of a generation, or a failed
--                                            discovery or poll being retried (Throttled,
--                                            UpstreamUnavailable, MirrorFailed, ...)
--   status.observedGeneration behind      -> Progressing: the operator has not seen the new spec yet
--                                            (also right after spec.suspend is set back to false)
--   Ready reason Suspended, any status    -> Suspended: spec.suspend is true. Ready keeps the
--                                            status of the last outcome (True stays True), so the
--                                            reason decides; the message says what is kept and
--                                            what the last outcome was
--   Stalled=True                          -> Degraded: a person must fix the spec, the Secret or
--                                            SWR (AuthenticationFailed, AccessDenied, ...);
--                                            reason PolicyDrift too (the SWR policies differ
--                                            from spec.expectedPolicies; tasks are still mirrored)
--   Ready=True, ReplicationHealthy=False  -> Degraded (ImageRepository only): polling works, but
--                                            sync jobs to a policy's target fail (reason SyncFailed)
--   Ready=True                            -> Healthy with the Ready message ("42 repositories",
--                                            naming wanted names held by foreign ImageRepositories;
--                                            "2 sync tasks", also with ReplicationHealthy=Unknown:
--                                            JobsUnavailable, a failed job listing proves nothing)
--
-- SyncRepoTask is observed state: the operator writes the SWR policy into it as SWR returned it,
-- and problems with polling show on the owning ImageRepository. Its health is that of the
-- policy's replication, from the condition Replicated the operator sets from SWR's sync jobs:
--   Replicated=False (reason SyncFailed)        -> Degraded: the newest job of a tag to this
--                                                  policy's target failed, timed out or was cancelled
--   Replicated=Unknown, reason SyncInProgress   -> Progressing: the newest job is waiting or running
--   anything else                               -> Healthy, naming the policy: Replicated=True,
--                                                  NoSyncJobs, or no condition (spec.syncJobs.mode
--                                                  Ignore, or not polled yet)
--
-- argocd-cm-patch.yaml holds this script once for each kind, under the per-kind keys
-- resource.customizations.health.swr.imagesync.io_<kind>: a ConfigMap key cannot hold the
-- wildcard "swr.imagesync.io_*" (docs/installing.md says why the wildcard form is not used).
-- Argo CD runs health scripts without the string library, so the script uses only the base and
-- table libraries. Keep it identical to the copies in argocd-cm-patch.yaml (a test checks).

local function health(status, message)
  return { status = status, message = message }
end

local function conditionsOf(obj)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    return obj.status.conditions
  end
  return {}
end

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

-- kstatusHealth is the health of a kind the operator reports on with kstatus conditions; kind
-- names what the operator does for it (in the messages Argo CD shows while it waits) and the
-- condition, if any, that degrades it although it is Ready.
local function kstatusHealth(obj, kind)
  local conditions = conditionsOf(obj)
  if #conditions == 0 then
    return health("Progressing", kind.waitingForFirst)
  end

  local ready = findCondition(conditions, "Ready")
  local reconciling = findCondition(conditions, "Reconciling")
  local stalled = findCondition(conditions, "Stalled")

  -- A transient failure (reason ProgressingWithRetry) keeps Reconciling=True and does not advance
  -- observedGeneration while the operator retries with backoff, so it is checked first: Ready
  -- says what failed.
  if reconciling ~= nil and reconciling.status == "True" then
    if ready ~= nil and ready.status == "False" then
      return health("Progressing", messageOf(ready, "Retrying"))
    end
    return health("Progressing", messageOf(reconciling, kind.working))
  end

  -- Conditions written for an older generation describe the old spec: a Stalled condition there
  -- may already be fixed by the change that is waiting to be seen.
  local generation = obj.metadata.generation
  local observedGeneration = obj.status.observedGeneration
  if generation ~= nil and (observedGeneration == nil or observedGeneration < generation) then
    return health("Progressing", kind.waitingForGeneration .. generation)
  end

  -- A suspended object keeps Ready's status, True or False: pausing is neither healthy work nor
  -- a failure, and a failure from before the suspension is in the message. It comes before
  -- Degraded, which a replication failure from before would otherwise report.
  if ready ~= nil and ready.reason == "Suspended" then
    return health("Suspended", messageOf(ready, "Suspended"))
  end

  if stalled ~= nil and stalled.status == "True" then
    return health("Degraded", messageOf(stalled, "Stalled"))
  end

  if ready ~= nil and ready.status == "True" then
    if kind.failingWhileReady ~= nil then
      local failing = findCondition(conditions, kind.failingWhileReady.type)
      if failing ~= nil and failing.status == "False" then
        return health("Degraded", messageOf(failing, kind.failingWhileReady.fallback))
      end
    end
    return health("Healthy", messageOf(ready, "Ready"))
  end

  -- The operator never leaves Ready=False without Stalled, Reconciling or Suspended; if it ever
  -- does, nothing is retrying, so report it rather than wait for progress that will not come.
  if ready ~= nil and ready.status == "False" then
    return health("Degraded", messageOf(ready, "Not ready"))
  end

  return health("Progressing", messageOf(ready, "Waiting for the Ready condition"))
end

local imageOrganization = {
  waitingForFirst = "Waiting for the first discovery",
  working = "Discovering SWR repositories",
  waitingForGeneration = "Waiting for the operator to discover the repositories of generation ",
}

local imageRepository = {
  waitingForFirst = "Waiting for the first poll",
  working = "Polling SWR",
  waitingForGeneration = "Waiting for the operator to poll generation ",
  -- Ready=True says that polling works; sync jobs to a policy's target may fail all the same.
  failingWhileReady = { type = "ReplicationHealthy", fallback = "Replication failing" },
}

local function syncRepoTaskHealth(obj)
  local replicated = findCondition(conditionsOf(obj), "Replicated")
  if replicated ~= nil and replicated.status == "False" then
    return health("Degraded", messageOf(replicated, "SyncFailed"))
  end
  if replicated ~= nil and replicated.status == "Unknown" and replicated.reason == "SyncInProgress" then
    return health("Progressing", messageOf(replicated, "SyncInProgress"))
  end
  if obj.status ~= nil and obj.status.id ~= nil then
    return health("Healthy", "mirrors SWR policy " .. obj.status.id)
  end
  return health("Healthy", "mirrors an SWR policy")
end

if obj.kind == "ImageOrganization" then
  return kstatusHealth(obj, imageOrganization)
end
if obj.kind == "ImageRepository" then
  return kstatusHealth(obj, imageRepository)
end
if obj.kind == "SyncRepoTask" then
  return syncRepoTaskHealth(obj)
end
return health("Unknown", "no health check for kind " .. tostring(obj.kind))
