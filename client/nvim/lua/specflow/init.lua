-- specflow.nvim: follow and steer specflowd orchestrations from Neovim (0.7+).
--   require("specflow").setup({})      -- connect, subscribe to events, keep the statusline current
--   :Specflow status|orchestrate|pause|resume|cancel|merge|recover|answer|logs
--   require("specflow").statusline()  -- "specflow implement · batch 2/4 · tasks 9/20 · $0.05"
local bridge = require("specflow.bridge")
local client_mod = require("specflow.client")
local logs = require("specflow.logs")
local questions = require("specflow.questions")
local shared_facts = require("specflow.shared_facts")
local socket = require("specflow.socket")
local view = require("specflow.view")

local M = {}

local defaults = {
  socket = nil, -- socket path; nil = found like specflowctl finds it
  host = nil, -- "[user@]HOST[:PORT]": that host's daemon through `ssh HOST specflowctl bridge`; nil = $SPECFLOWCTL_HOST, else here
  ssh = nil, -- the ssh command, a string or a list ("ssh -F ~/.ssh/work_config"); nil = $SPECFLOWCTL_SSH, else "ssh"
  remote_specflowctl = nil, -- the specflowctl the remote login runs; nil = $SPECFLOWCTL_REMOTE, else "specflowctl"
  project = nil, -- project ref (registry id or path); nil = the current directory
  notify = true, -- vim.notify when a phase needs an answer, a merge decision or attention
  statusline_prefix = "specflow",
  retry_ms = 250, -- first reconnect delay; doubles up to retry_max_ms
  retry_max_ms = 5000,
}

local state = {
  config = vim.deepcopy(defaults),
  client = nil,
  view = nil, -- the current project's orchestrate.status reply
  root = nil, -- that project's root, to tell its events from others'
  ever_connected = false,
  refreshing = false,
  refresh_again = false,
}

local function notify(message, level)
  vim.notify(message, level or vim.log.levels.INFO, { title = "specflow" })
end

local LEVELS = { info = vim.log.levels.INFO, warn = vim.log.levels.WARN, error = vim.log.levels.ERROR }

local function fail(err)
  notify("specflow: " .. client_mod.describe(err), vim.log.levels.ERROR)
end

local function project_ref()
  local project = state.config.project
  if type(project) == "function" then
    project = project()
  end
  return project or vim.fn.getcwd()
end

local function socket_path()
  return state.config.socket or socket.path()
end

local function env(name)
  local value = os.getenv(name)
  return value ~= "" and value or nil
end

-- nil = the local socket; else the host and the ssh command line reaching it (docs/remote.md)
local function remote_target()
  local host = state.config.host or env("SPECFLOWCTL_HOST")
  if not host or host == "" then
    return nil
  end
  local ssh = state.config.ssh or env("SPECFLOWCTL_SSH") or "ssh"
  local argv, problem = bridge.argv(host, ssh, state.config.remote_specflowctl or env("SPECFLOWCTL_REMOTE"))
  return { host = host, argv = argv, problem = problem }
end

local function status_changed()
  pcall(vim.cmd, "redrawstatus")
  if vim.fn.exists("#User#SpecflowStatus") == 1 then
    vim.cmd("doautocmd <nomodeline> User SpecflowStatus")
  end
end

local function call(method, params, on_result)
  M.client():request(method, params, function(err, result)
    if err then
      return fail(err)
    end
    on_result(result)
  end)
end

-- Fetch the current project's orchestration; calls made while one is in flight are coalesced.
function M.refresh()
  if state.refreshing then
    state.refresh_again = true
    return
  end
  state.refreshing = true
  M.client():request("orchestrate.status", { project = project_ref() }, function(err, result)
    state.refreshing = false
    if err then
      state.view = nil -- no orchestration for this project (or no daemon): nothing to show
    else
      state.view = result
      state.root = result.record.project_path
    end
    status_changed()
    if state.refresh_again then
      state.refresh_again = false
      M.refresh()
    end
  end)
end

local function concerns_us(event)
  if state.root then
    return event.project == state.root
  end
  return event.type == "orchestration.started" -- maybe ours: a status call will tell
end

local function announce(event)
  local kind = view.notice_kind(event)
  if not kind or not state.config.notify then
    return
  end
  local orchestration = (event.data or {}).orchestration
  if kind == "answer" or not orchestration then
    local message, level = view.notice(kind, event, nil)
    return notify(message, LEVELS[level])
  end
  M.client():request("orchestrate.status", { id = orchestration }, function(err, result)
    local message, level = view.notice(kind, event, not err and result.record or nil)
    notify(message, LEVELS[level])
  end)
end

local function on_event(event)
  if event.type == "events.lost" then
    -- we read too slowly and the daemon dropped events: what they said is read again from the status
    return M.refresh()
  end
  logs.on_event(event)
  local family = event.type:match("^(%w+)%.")
  if (family == "orchestration" or family == "batch" or family == "run" or family == "question") and concerns_us(event) then
    M.refresh()
  end
  announce(event)
end

local function on_connect(client, generation)
  client:request("events.subscribe", nil, function(err)
    if err then
      return fail(err)
    end
    state.subscribed_generation = generation
    if generation > 1 then
      notify("specflow: reconnected to specflowd")
    end
    state.ever_connected = true
    M.refresh()
  end)
end

local function on_disconnect(_, reason)
  state.view = nil
  status_changed()
  notify("specflow: " .. reason .. "; reconnecting", vim.log.levels.WARN)
end

function M.client()
  if not state.client then
    state.client = client_mod.new({
      socket = socket_path,
      remote = remote_target,
      on_connect = on_connect,
      on_disconnect = on_disconnect,
      on_event = on_event,
      retry_ms = state.config.retry_ms,
      retry_max_ms = state.config.retry_max_ms,
    })
  end
  return state.client
end

-- Connect now and stay connected (reconnecting after a daemon restart).
function M.setup(opts)
  state.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  if state.client then
    state.client:stop()
    state.client = nil
  end
  local group = vim.api.nvim_create_augroup("specflow", { clear = true })
  vim.api.nvim_create_autocmd("DirChanged", {
    group = group,
    callback = function()
      state.root, state.view = nil, nil
      M.refresh()
    end,
  })
  vim.api.nvim_create_autocmd("VimLeavePre", {
    group = group,
    callback = function()
      if state.client then
        state.client:stop()
      end
    end,
  })
  M.client():start()
end

-- The statusline component (empty when no daemon was ever reached or no orchestration exists).
function M.statusline()
  local client = state.client
  return view.statusline(state.view, client and client.state, state.ever_connected, state.config.statusline_prefix)
end

-- For status line plugins and tests: the last orchestration view, the connection, the generation.
function M.state()
  local client = state.client
  return {
    view = state.view,
    connection = client and client.state or "idle",
    generation = client and client.generation or 0,
    subscribed_generation = state.subscribed_generation or 0,
    socket = socket_path(),
    host = remote_target() and remote_target().host or nil,
  }
end

-- Commands ------------------------------------------------------------------------------------------

local commands = {}

local function show_view(result)
  notify("specflow: " .. view.orchestration_line(result.record))
  M.refresh()
end

function commands.status()
  local ref = project_ref()
  call("projects.status", { project = ref }, function(project)
    M.client():request("orchestrate.status", { project = ref }, function(err, result)
      notify(table.concat(view.status_lines(project, not err and result or nil), "\n"))
    end)
  end)
end

function commands.orchestrate(args)
  local yes = vim.tbl_contains(args, "yes")
  local config, err = view.parse_config(vim.tbl_filter(function(arg)
    return arg ~= "yes"
  end, args))
  if not config then
    return fail(err)
  end
  local ref = project_ref()
  local function start()
    call("orchestrate.start", { project = ref, config = config }, function(result)
      notify(string.format("specflow: started orchestration %s (follow: :Specflow logs)", view.short_id(result.record.id)))
      M.refresh()
    end)
  end
  if yes then
    return start()
  end
  call("orchestrate.preview", { project = ref, config = config }, function(preview)
    local prompt = table.concat(view.preview_lines(preview), "\n") .. "\nStart this orchestration?"
    vim.ui.select({ "Start", "Cancel" }, { prompt = prompt }, function(choice)
      if choice == "Start" then
        start()
      end
    end)
  end)
end

function commands.pause(args)
  call("orchestrate.pause", { project = project_ref(), now = args[1] == "now" }, show_view)
end

function commands.resume(args)
  local params = { project = project_ref() }
  if args[1] then
    params.budget = tonumber(args[1])
    if not params.budget then
      return fail("resume takes a new total budget in USD, got " .. args[1])
    end
  end
  call("orchestrate.resume", params, show_view)
end

function commands.cancel()
  call("orchestrate.cancel", { project = project_ref() }, show_view)
end

function commands.merge()
  call("orchestrate.merge", { project = project_ref() }, show_view)
end

function commands.recover(args)
  local ref = project_ref()
  local function recover(action)
    local params = { project = ref, action = action }
    if args[2] then
      params.budget = tonumber(args[2])
    end
    call("orchestrate.recover", params, show_view)
  end
  if args[1] then
    return recover(args[1])
  end
  call("orchestrate.status", { project = ref }, function(result)
    local attention = result.record.attention
    if not attention then
      return notify("specflow: the orchestration does not need attention (" .. result.record.status .. ")")
    end
    vim.ui.select(attention.options or {}, { prompt = attention.reason }, function(choice)
      if choice then
        recover(choice)
      end
    end)
  end)
end

function commands.answer(args)
  call("questions.list", vim.empty_dict(), function(result)
    questions.answer(result.questions or {}, args[1], function(run_id, answers)
      call("questions.answer", { run = run_id, answers = answers }, function(record)
        notify("specflow: answered; run " .. view.short_id(record.run_id) .. " resumes")
      end)
    end, function(reason)
      notify("specflow: " .. reason)
    end)
  end)
end

function commands.logs(args)
  if args[1] then
    return logs.open_run(args[1], function(since, callback)
      M.client():request("runs.log", { run = args[1], since = since }, callback)
    end)
  end
  call("orchestrate.status", { project = project_ref() }, logs.open_decisions)
end

M.commands = commands

local ORCHESTRATE_OPTIONS = {
  "yes", "auto_merge", "skip_design", "skip_analyze", "no_auto_heal", "pause_between_batches",
  "context=", "batch_size=", "max_heal_attempts=", "budget.total=", "budget.per_batch=", "budget.heal=", "agent=",
}

-- :Specflow completion
function M.complete(arg_lead, line)
  local words = vim.split(line, "%s+", { trimempty = true })
  local candidates
  if #words <= 1 or (#words == 2 and not line:match("%s$")) then
    candidates = vim.tbl_keys(commands)
  elseif words[2] == "orchestrate" then
    candidates = ORCHESTRATE_OPTIONS
  elseif words[2] == "recover" then
    candidates = vim.list_extend({}, shared_facts.recovery_options) -- a copy: sorted below
  elseif words[2] == "pause" then
    candidates = { "now" }
  else
    candidates = {}
  end
  table.sort(candidates)
  return vim.tbl_filter(function(candidate)
    return candidate:sub(1, #arg_lead) == arg_lead
  end, candidates)
end

-- :Specflow {subcommand} [args]
function M.command(fargs)
  local name = fargs[1] or "status"
  local handler = commands[name]
  if not handler then
    local names = vim.tbl_keys(commands)
    table.sort(names)
    return fail("unknown subcommand " .. name .. " (one of: " .. table.concat(names, ", ") .. ")")
  end
  if not M.client().wanted then
    M.client():start() -- used without setup(): stay connected from now on, like setup() would
  end
  handler(vim.list_slice(fargs, 2))
end

return M
