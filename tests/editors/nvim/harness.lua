-- Shared by the headless Neovim test scripts: load the plugin from the worktree, stub the UI, record what
-- the user would have seen, write it as JSON to $SPECFLOW_NVIM_RESULT and quit. Python asserts on it.
local H = {}

local repo = os.getenv("SPECFLOW_REPO")
vim.opt.runtimepath:prepend(repo .. "/client/nvim")
vim.cmd("runtime plugin/specflow.lua")

H.result = { notifications = {}, statuslines = {}, prompts = {}, notes = {} }

vim.notify = function(message, level)
  table.insert(H.result.notifications, { message = message, level = level })
end

-- Answers for vim.ui.select / vim.ui.input, consumed in order: a function(items or opts) -> choice.
H.ui_replies = {}
local function reply(kind, prompt, items)
  table.insert(H.result.prompts, { kind = kind, prompt = prompt })
  local answer = table.remove(H.ui_replies, 1)
  assert(answer, "unexpected " .. kind .. " prompt: " .. tostring(prompt))
  return answer(items)
end
vim.ui.select = function(items, opts, on_choice)
  local choice = reply("select", opts.prompt, items)
  vim.schedule(function()
    on_choice(choice)
  end)
end
vim.ui.input = function(opts, on_confirm)
  local text = reply("input", opts.prompt)
  vim.schedule(function()
    on_confirm(text)
  end)
end

-- Record each distinct statusline the plugin announces.
vim.api.nvim_create_autocmd("User", {
  pattern = "SpecflowStatus",
  callback = function()
    local line = require("specflow").statusline()
    if H.result.statuslines[#H.result.statuslines] ~= line then
      table.insert(H.result.statuslines, line)
    end
  end,
})

function H.wait(what, timeout_ms, condition)
  if not vim.wait(timeout_ms, condition, 20) then
    error("timed out after " .. timeout_ms .. " ms waiting for " .. what, 2)
  end
end

-- setup() the plugin and wait until it has subscribed to the daemon's events.
function H.connected(opts)
  local specflow = require("specflow")
  specflow.setup(opts or {})
  H.wait("subscribed", 20000, function()
    return specflow.state().subscribed_generation == 1
  end)
  return specflow
end

function H.notified(pattern)
  for _, item in ipairs(H.result.notifications) do
    if item.message:find(pattern) then
      return item
    end
  end
end

function H.run(body)
  local ok, err = xpcall(body, debug.traceback)
  if not ok then
    H.result.error = tostring(err)
  end
  H.result.version = vim.version()
  local file = assert(io.open(os.getenv("SPECFLOW_NVIM_RESULT"), "w"))
  file:write(vim.json.encode(H.result))
  file:close()
  vim.cmd("qall!")
end

return H
