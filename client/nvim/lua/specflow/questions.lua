-- Answering a run's questions through vim.ui.select / vim.ui.input (any UI plugin that overrides them works).
local view = require("specflow.view")

local M = {}

local OTHER = { label = "Other…", other = true }

local function choose_run(pending, done)
  if #pending == 1 then
    return done(pending[1])
  end
  vim.ui.select(pending, {
    prompt = "Which run to answer?",
    format_item = function(item)
      local first = item.questions[1] and item.questions[1].question or ""
      return string.format("%s · %s · %s", view.basename(item.project_root), item.step, first)
    end,
  }, done)
end

-- Ask every question of one pending run; `done(answers)` gets the answers table, or nil when the user
-- dismissed a prompt (then nothing is sent).
local function ask(pending, done)
  local answers, index = {}, 0
  local function next_question()
    index = index + 1
    local question = pending.questions[index]
    if not question then
      return done(answers)
    end
    local function take(value)
      if value == nil or value == "" then
        return done(nil)
      end
      answers[view.answer_key(question)] = value
      next_question()
    end
    -- typed text is checked as the daemon will check it: a refused answer is said and asked again
    local function input(prompt)
      vim.ui.input({ prompt = prompt }, function(value)
        local problem = value and value ~= "" and view.answer_problem(question, value)
        if problem then
          vim.notify("specflow: " .. problem, vim.log.levels.WARN)
          return input(prompt)
        end
        take(value)
      end)
    end
    local options = question.options or {}
    if #options > 0 and not question.multiSelect then
      local items = vim.deepcopy(options)
      if view.accepts_free_text(question) then
        table.insert(items, OTHER)
      end
      vim.ui.select(items, {
        prompt = question.question,
        format_item = function(option)
          local description = option.description
          return option.label .. ((description and description ~= "") and (" — " .. description) or "")
        end,
      }, function(choice)
        if not choice then
          return done(nil)
        end
        if choice.other then
          input(question.question .. " ")
        else
          take(choice.label)
        end
      end)
    else
      local labels = vim.tbl_map(function(option)
        return option.label
      end, options)
      local hint = #labels > 0 and (" (" .. table.concat(labels, ", ") .. "; several: comma-separated)") or ""
      input(question.question .. hint .. " ")
    end
  end
  next_question()
end

-- `pending`: questions.list's entries; `run_id`: answer that run only (nil: ask which when several).
-- `done(run_id, answers)` runs once everything is answered; `cancelled(reason)` otherwise.
function M.answer(pending, run_id, done, cancelled)
  if run_id then
    pending = vim.tbl_filter(function(item)
      return item.run_id == run_id
    end, pending)
  end
  if #pending == 0 then
    return cancelled(run_id and ("run " .. run_id .. " is not waiting for answers") or "no questions are waiting")
  end
  choose_run(pending, function(item)
    if not item then
      return cancelled("nothing answered")
    end
    ask(item, function(answers)
      if not answers then
        return cancelled("nothing answered")
      end
      done(item.run_id, answers)
    end)
  end)
end

return M
